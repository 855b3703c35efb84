"""A labelled set of photos with and without faces, built from images that packages ship.

The faces are Pillow's `hopper` portrait (Grace Hopper, 128x128, in Pillow's sdist test
images, downloaded and cached by testkit/corpora.py): its face is labelled once, by hand,
as `HOPPER_FACE` (hat brim to chin, ear to ear; dlib's own box, eyebrows to chin, lies inside
it), and each photo places the portrait (in colour, mirrored, grey, sepia or darkened) at a
known position and scale on a wider canvas of `testkit.images.photographic` pixels, so each
label is that box moved and scaled with it. Positions: the corners, the edges' middles and
off-centre points; faces from 1/10 to 1/3 of the canvas's longest side, on landscape,
portrait and panoramic canvases; some photos hold two portraits (two labels).

The face-less photos are Pillow's and pillow-heif's test photos without a person (flowers,
a pug, text and scanned pages) and generated ones (noise at five scales, gradients), each
upscaled to a camera-like size. Deterministic: the same bytes on every run (JPEG, quality 90).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

from testkit import images

Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive)

HOPPER_FACE: Box = (36, 24, 90, 84)  # in hopper.jpg's 128x128 pixels, by hand
HOPPER_SIDE = 128


@dataclass(frozen=True)
class Photo:
    name: str
    data: bytes  # a JPEG
    width: int
    height: int
    faces: tuple[Box, ...]  # the labels; () for a photo without a face


def _corpus_file(corpus: str, name: str) -> Path:
    from testkit import corpora

    folder, files = corpora.images(corpus)
    found = next((path for path in files if path.name == name), None)
    if found is None:
        raise FileNotFoundError(f"{name} is not among the {corpus} test images in {folder}")
    return found


@functools.cache
def hopper() -> Image.Image:
    with Image.open(_corpus_file("pillow", "hopper.jpg")) as image:
        return image.convert("RGB")


def _variant(kind: str) -> tuple[Image.Image, Box]:
    """The portrait in one of its looks, and its face box (mirrored for `mirror`)."""
    base = hopper()
    left, top, right, bottom = HOPPER_FACE
    if kind == "mirror":
        return ImageOps.mirror(base), (HOPPER_SIDE - right, top, HOPPER_SIDE - left, bottom)
    if kind == "grey":
        return ImageOps.grayscale(base).convert("RGB"), HOPPER_FACE
    if kind == "sepia":
        return ImageOps.colorize(ImageOps.grayscale(base), "#2a1a08", "#f4e4c4"), HOPPER_FACE
    if kind == "dark":
        return ImageEnhance.Brightness(base).enhance(0.6), HOPPER_FACE
    return base, HOPPER_FACE


# (canvas width, height, portrait side, [(x share, y share of the free space), ...], look)
_FACE_LAYOUTS = [
    (2000, 1500, 600, [(0.0, 0.0)], "colour"),
    (2000, 1500, 600, [(1.0, 0.0)], "mirror"),
    (2000, 1500, 600, [(0.0, 1.0)], "grey"),
    (2000, 1500, 600, [(1.0, 1.0)], "sepia"),
    (2000, 1500, 450, [(0.5, 0.5)], "dark"),
    (2000, 1500, 450, [(0.1, 0.8)], "colour"),
    (2400, 1600, 900, [(1.0, 0.5)], "colour"),
    (2400, 1600, 900, [(0.0, 0.5)], "mirror"),
    (1500, 2000, 600, [(0.5, 0.0)], "colour"),
    (1500, 2000, 600, [(0.5, 1.0)], "grey"),
    (1500, 2000, 1000, [(0.3, 0.2)], "sepia"),
    (1500, 2000, 450, [(0.9, 0.1)], "dark"),
    (3000, 1000, 700, [(0.0, 0.5)], "colour"),
    (3000, 1000, 700, [(1.0, 0.0)], "mirror"),
    (3000, 1000, 900, [(0.7, 1.0)], "grey"),
    (1600, 1200, 1100, [(0.5, 0.5)], "colour"),
    (1600, 1200, 1100, [(1.0, 0.0)], "sepia"),
    (2000, 2000, 700, [(0.2, 0.7)], "dark"),
    (3000, 2000, 600, [(0.75, 0.25)], "colour"),
    (3000, 2000, 800, [(0.05, 0.95)], "mirror"),
    (2400, 1600, 600, [(0.1, 0.3), (0.6, 0.4)], "colour"),
    (2400, 1600, 500, [(0.0, 1.0), (0.3, 1.0)], "grey"),
    (3000, 1500, 600, [(0.0, 0.0), (1.0, 1.0)], "colour"),
    (2000, 1500, 500, [(0.2, 0.1), (0.8, 0.1)], "mirror"),
]


def face_photos() -> list[Photo]:
    """24 photos, each with one or two labelled faces."""
    return [_face_photo(index, *layout) for index, layout in enumerate(_FACE_LAYOUTS)]


def _face_photo(
    index: int,
    width: int,
    height: int,
    side: int,
    places: list[tuple[float, float]],
    look: str,
) -> Photo:
    portrait, face = _variant(look)
    portrait = portrait.resize((side, side), Image.Resampling.BICUBIC)
    canvas = images.photographic(width, height, seed=100 + index)
    scale = side / HOPPER_SIDE
    labels = []
    for x_share, y_share in places:
        x, y = round((width - side) * x_share), round((height - side) * y_share)
        canvas.paste(portrait, (x, y))
        labels.append(
            (
                x + round(face[0] * scale),
                y + round(face[1] * scale),
                x + round(face[2] * scale),
                y + round(face[3] * scale),
            )
        )
    name = f"{look} portrait {side} px on {width}x{height} at " + ", ".join(
        f"({x:.2f}, {y:.2f})" for x, y in places
    )
    return Photo(name, images.encode(canvas, "JPEG", quality=90), width, height, tuple(labels))


def faceless_photos() -> list[Photo]:
    """10 photos without a face: shipped photos upscaled, and generated textures."""
    shipped = [
        ("pillow", "flower.jpg", 2000),
        ("pillow", "flower2.jpg", 2000),
        ("pillow", "pport_g4.tif", 2400),  # a scanned page of text
        ("pillow", "caption_6_33_22.png", 1600),  # rendered text
        ("pillow", "chi.gif", 1600),
        ("pillow-heif", "pug.heic", 2000),  # a dog's face is not a person's
    ]
    photos = []
    for corpus, name, longest in shipped:
        image = _open_shipped(_corpus_file(corpus, name))
        scale = longest / max(image.size)
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC
        )
        photos.append(_plain(f"{name} at {image.width}x{image.height}", image))
    for seed, (width, height) in enumerate([(2000, 1500), (1500, 2000), (3000, 1000)]):
        generated = images.photographic(width, height, seed=200 + seed)
        photos.append(_plain(f"noise at five scales, {width}x{height}", generated))
    ramp = Image.linear_gradient("L").resize((2000, 1500))
    sky = Image.merge("RGB", (ramp.point(lambda v: 90 + v // 3), ramp, ramp.rotate(180)))
    photos.append(_plain("gradients, 2000x1500", sky))
    return photos


def _open_shipped(path: Path) -> Image.Image:
    if path.suffix == ".heic":
        import pi_heif

        pi_heif.register_heif_opener()
    with Image.open(path) as image:
        image.seek(0)
        return image.convert("RGB")


def _plain(name: str, image: Image.Image) -> Photo:
    return Photo(name, images.encode(image, "JPEG", quality=90), image.width, image.height, ())
