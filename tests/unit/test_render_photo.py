"""images.avatar.render_photo: the squares, the crop box and the placeholders a viewer gets.

Originals are built here with Pillow, small (one decode each): a photo of four flat
quadrants shows which part of the image a square was cut from, and in which orientation;
Pillow's `hopper` portrait (from Pillow's own test images, tests/corpus) placed on a wider
canvas is a face away from the centre.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import pytest
from PIL import Image, ImageDraw, ImageStat

from profile_photos.crop import Crop
from profile_photos.images import faces
from profile_photos.images.avatar import render_photo
from profile_photos.images.render import Rendition, render
from testkit import images

RED, GREEN, BLUE, YELLOW = (220, 20, 20), (20, 200, 20), (20, 20, 220), (230, 220, 10)
# EXIF orientation -> the transposition that turns the upright picture into the stored one
_STORED = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def quadrants(width: int = 400, height: int = 300) -> Image.Image:
    """Upright: red top left, green top right, blue bottom left, yellow bottom right."""
    image = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    for colour, box in (
        (RED, (0, 0, half_w, half_h)),
        (GREEN, (half_w, 0, width, half_h)),
        (BLUE, (0, half_h, half_w, height)),
        (YELLOW, (half_w, half_h, width, height)),
    ):
        image.paste(colour, box)
    return image


def stored_jpeg(upright: Image.Image, orientation: int, quality: int = 95) -> bytes:
    """`upright` as a camera stores it with EXIF `orientation`."""
    stored = upright.transpose(_STORED[orientation]) if orientation in _STORED else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    return images.encode(stored, "JPEG", quality=quality, exif=exif.tobytes())


def pixels(rendition: Rendition) -> Image.Image:
    image = Image.open(io.BytesIO(rendition.data))
    image.load()
    return image.convert("RGB")


def near(colour: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=False))


def test_each_square_is_square_at_its_side_or_the_crop_side_never_more() -> None:
    data = images.encode(quadrants(1200, 900), "JPEG", quality=90)
    made = render_photo(data, "image/jpeg", (128, 512, 1024), crop=Crop(100, 50, 700, "USER"))
    assert {side: (r.width, r.height) for side, r in made.squares.items()} == {
        128: (128, 128),
        512: (512, 512),
        1024: (700, 700),  # the crop is 700 px: never upscaled
    }
    for rendition in made.squares.values():
        assert pixels(rendition).size == (rendition.width, rendition.height)
        assert Image.open(io.BytesIO(rendition.data)).format == "WEBP"
    assert (made.width, made.height) == (1200, 900)
    assert made.crop == Crop(100, 50, 700, "USER")


def test_the_sizes_are_the_renders() -> None:
    data = images.encode(images.photographic(900, 600, seed=4), "JPEG", quality=85)
    made = render_photo(data, "image/jpeg", (128, 512, 1024))
    today = render(data, "image/jpeg", (128, 512, 1024))
    assert {s: (r.width, r.height) for s, r in made.sizes.items()} == {
        s: (r.width, r.height) for s, r in today.items()
    }
    assert made.sizes[128].data == today[128].data


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_square_is_cut_upright_from_the_users_box(orientation: int) -> None:
    data = stored_jpeg(quadrants(), orientation)
    for box, colour in ((Crop(10, 10, 120, "USER"), RED), (Crop(260, 160, 130, "USER"), YELLOW)):
        made = render_photo(data, "image/jpeg", (128, 64), crop=box, squares_only=True)
        assert (made.width, made.height) == (400, 300)
        square = pixels(made.squares[128])
        side = min(128, box.side)
        assert square.size == (side, side)
        corners = [square.getpixel(xy) for xy in ((2, 2), (side - 3, side - 3))]
        assert all(near(c, colour) for c in corners), (orientation, box, corners)


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_square_half_across_two_quadrants_keeps_them_in_place(orientation: int) -> None:
    data = stored_jpeg(quadrants(), orientation)
    made = render_photo(data, "image/jpeg", (100,), crop=Crop(100, 0, 200, "USER"))
    square = pixels(made.squares[100])
    assert near(square.getpixel((10, 10)), RED)  # left half of the box: the red quadrant
    assert near(square.getpixel((90, 10)), GREEN)
    assert near(square.getpixel((10, 90)), BLUE)
    assert near(square.getpixel((90, 90)), YELLOW)


def test_squares_only_makes_no_size_but_the_same_squares_and_placeholders() -> None:
    data = images.encode(quadrants(), "PNG")
    crop = Crop(0, 0, 300, "USER")
    made = render_photo(data, "image/png", (128, 512), crop=crop, squares_only=True)
    whole = render_photo(data, "image/png", (128, 512), crop=crop)
    assert made.sizes == {}
    assert {side: r.data for side, r in made.squares.items()} == {
        side: r.data for side, r in whole.squares.items()
    }
    assert made.dominant_color == whole.dominant_color


def test_a_crop_outside_the_image_is_refused() -> None:
    data = images.encode(quadrants(), "PNG")
    with pytest.raises(ValueError, match="inside"):
        render_photo(data, "image/png", (128,), crop=Crop(200, 0, 250, "USER"))


@pytest.fixture(scope="module")
def hopper() -> Image.Image:
    from testkit import corpora

    folder, _ = corpora.images("pillow")
    with Image.open(folder / "hopper.jpg") as image:
        return image.convert("RGB")


def on_canvas(face: Image.Image, size: tuple[int, int], at: tuple[int, int]) -> Image.Image:
    canvas = images.photographic(*size, seed=7)
    canvas.paste(face, at)
    return canvas


def test_a_face_at_the_right_edge_gives_a_face_crop_around_it(hopper: Image.Image) -> None:
    portrait = hopper.resize((384, 384), Image.Resampling.BICUBIC)  # face ~(111,78)-(267,234)
    data = images.encode(on_canvas(portrait, (1500, 600), (1100, 120)), "JPEG", quality=90)
    made = render_photo(data, "image/jpeg", (128, 512))
    assert made.crop.source == "FACE"
    face = (1100 + 111, 120 + 78, 1100 + 267, 120 + 234)  # hopper's face box, 3x
    crop = made.crop
    assert crop.left <= face[0]
    assert face[2] <= crop.left + crop.side
    assert crop.top <= face[1]
    assert face[3] <= crop.top + crop.side
    assert crop.inside(1500, 600)
    assert crop.side < 600  # framed on the face, not the centre square


def test_a_small_face_on_a_large_jpeg_is_squared_at_full_resolution(hopper: Image.Image) -> None:
    # Given a 3200x2400 JPEG (its sizes decode at half scale) whose face box is ~620 px, with
    # 1-px stripes beside the face that only a full-resolution decode keeps
    canvas = on_canvas(
        hopper.resize((768, 768), Image.Resampling.BICUBIC), (3200, 2400), (2300, 300)
    )
    draw = ImageDraw.Draw(canvas)
    for x in range(2400, 2500, 2):
        draw.line([(x, 820), (x, 880)], fill=(0, 0, 0))
        draw.line([(x + 1, 820), (x + 1, 880)], fill=(255, 255, 255))
    data = images.encode(canvas, "JPEG", quality=95)

    # When
    made = render_photo(data, "image/jpeg")

    # Then the largest square is the face box pixel for pixel: the stripes are still there
    crop = made.crop
    assert crop.source == "FACE"
    assert crop.side < 1024
    square = made.squares[1024]
    assert (square.width, square.height) == (crop.side, crop.side)
    stripes = (
        pixels(square)
        .convert("L")
        .crop((2410 - crop.left, 830 - crop.top, 2490 - crop.left, 870 - crop.top))
    )
    assert ImageStat.Stat(stripes).stddev[0] > 60  # a half-scale decode leaves a flat grey


def test_a_photo_without_a_face_gives_the_centre_square() -> None:
    data = images.encode(images.photographic(900, 500, seed=3), "JPEG", quality=85)
    made = render_photo(data, "image/jpeg", (128,))
    assert made.crop == Crop(200, 0, 500, "CENTER")


def test_a_detector_failure_gives_the_centre_square(
    hopper: Image.Image, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(grey: Image.Image) -> Iterator[faces.Face]:
        raise RuntimeError("dlib blew up")

    monkeypatch.setattr(faces, "detect", broken)
    data = images.encode(on_canvas(hopper, (600, 300), (450, 100)), "JPEG")
    made = render_photo(data, "image/jpeg", (128,))
    assert made.crop == Crop(150, 0, 300, "CENTER")
    assert made.squares[128].width == 128


def test_without_dlib_the_crop_is_the_centre_square(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib: ImportError
    faces._detector.cache_clear()
    try:
        data = images.encode(images.photographic(300, 200, seed=1), "JPEG")
        assert render_photo(data, "image/jpeg", (64,)).crop == Crop(50, 0, 200, "CENTER")
    finally:
        faces._detector.cache_clear()


def test_a_flat_photo_has_its_colour_and_a_thumbhash() -> None:
    data = images.encode(Image.new("RGB", (300, 200), (12, 160, 200)), "PNG")
    made = render_photo(data, "image/png", (128,))
    assert made.dominant_color == "#0ca0c8"
    assert made.thumbhash is not None
    hashed = base64.b64decode(made.thumbhash, validate=True)
    assert len(hashed) >= 5
    assert hashed[4] >> 7 == 1  # ThumbHash's header: a landscape photo


def test_the_dominant_colour_is_the_most_common_not_the_mean() -> None:
    image = Image.new("RGB", (300, 300), (0, 0, 255))
    image.paste((255, 255, 0), (0, 0, 300, 100))  # a third yellow, two thirds blue
    made = render_photo(images.encode(image, "PNG"), "image/png", (128,))
    assert made.dominant_color == "#0000ff"
