"""A photo's crop box from the faces in it (`crop.Crop`, source FACE), else its centre square.

Detection is dlib's HOG frontal-face detector (`get_frontal_face_detector`), run on a grey
copy `DETECT_SIDE` px on its longest side (`detect`), without pyramid upsampling: its 80 px
window finds faces down to ~1/11 of the photo's longest side. Measured on the labelled set
(`testkit.faces`: 28 faces in 24 photos, 10 photos without one; `make bench` avatars; CPU
time per photo, median): at 896 px every face was framed (but one of two faces too far
apart for one square, by design) in 47 ms; 512 px upsampled once (the same pyramid, finer
steps) did as well in 62 ms; 768 px missed the second of two small faces (34 ms), 640 and
512 px without upsampling missed 2 and 5 of 12 smaller faces. None of the face-less photos
scored a face at any of these settings.
Why this detector: no model to fetch (it is built into the wheel), the `dlib-bin` wheel is
11 MB unzipped plus numpy's ~65 MB (dlib's images are numpy arrays), and its licence is
Boost (numpy: BSD). `opencv-python-headless` is 169-180 MB unzipped (with numpy and Pillow
it breaks Lambda's 250 MB for a layer plus function) and OpenCV 5 no longer ships its Haar
cascades; the CNN and ONNX detectors need a model file fetched from a hub and an inference
runtime of tens of MB.

HOG also scores textures: a badge on Hopper's uniform scored as a face at 512 px, a scanned
page 0.18. So each box keeps its score (`detector.run(image, UPSAMPLE, 0)`), boxes under
`MIN_SCORE` are dropped, and of several faces only those scoring within `SCORE_SPREAD` of
the strongest count.

Framing (`frame`), in pixels of the upright image: a single face fills about half the
square (its side is `FACE_SHARE` x the square's), centred a little above the box's middle
(dlib's box runs from the eyebrows to the chin, so the forehead and hair are above it),
and is never cut; several faces: the square that holds them all with a face's margin when
one fits in the image, else the largest face alone. The square is then moved inside the
image, and shrunk only when the image is smaller than it. No face: `crop.center`.

dlib and numpy are imported inside `detect` only: the functions that serve photos never
load them, and an image layer without them still renders (`find` then answers CENTER).
Any failure of the detector (ImportError included) is a WARNING and the centre square:
finding a face is an improvement, never a reason to fail a rendition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from profile_photos.crop import Crop, center
from profile_photos.observability import logger

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["DETECT_SIDE", "Face", "detect", "find", "frame"]

DETECT_SIDE = 896  # px, the grey copy's longest side
UPSAMPLE = 0  # pyramid upsamplings: the 80 px window finds faces of ~80 px on the copy
MIN_SCORE = 0.3  # false faces (badges, text, foliage) scored <= 0.18 on the bench's set
SCORE_SPREAD = 1.0  # of several faces, those this close to the strongest's score count
FACE_SHARE = 0.5  # a single face's side over the square's
LIFT = 0.1  # the square's centre sits this share of the face above the box's middle
MARGIN = 0.5  # of the mean face side, around a group of faces


@dataclass(frozen=True, slots=True)
class Face:
    """A face's box (left, top, right, bottom: right and bottom exclusive) and its score."""

    left: float
    top: float
    right: float
    bottom: float
    score: float

    @property
    def side(self) -> float:
        return max(self.right - self.left, self.bottom - self.top)

    def scaled(self, factor: float) -> Face:
        return Face(
            self.left * factor,
            self.top * factor,
            self.right * factor,
            self.bottom * factor,
            self.score,
        )


def find(
    grey: Image.Image, width: int, height: int, *, min_side: int = 1
) -> tuple[Crop, list[Face]]:
    """The crop box of an upright `width` x `height` photo whose grey copy is `grey` (upright,
    mode L, any size: it is reduced to `DETECT_SIDE` here), and the faces it was framed on
    (in pixels of the photo). A FACE crop is never smaller than `min_side` (when the photo
    allows it): the caller's working copy resolves its largest square no finer than that."""
    try:
        faces = detect(grey)
    except Exception as exc:  # ImportError, a dlib error: the centre square, never a failure
        logger.warning(
            "Face detection failed: the crop is the centre square", extra={"reason": _why(exc)}
        )
        return center(width, height), []
    factor = width / grey.width
    faces = [face.scaled(factor) for face in faces]
    return frame(faces, width, height, min_side=min_side), faces


def detect(grey: Image.Image) -> list[Face]:
    """The faces dlib finds in `grey` (mode L, upright), in its pixels, strongest first."""
    import numpy  # the renditions layer only (layers/faces): loaded on the first detection
    from PIL import Image

    scale = DETECT_SIDE / max(grey.size)
    copy = grey
    if scale < 1:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        copy = grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    pixels = numpy.asarray(copy, dtype=numpy.uint8)
    boxes, scores, _ = _detector().run(pixels, UPSAMPLE, 0.0)
    back = grey.width / copy.width
    found = [
        Face(box.left() * back, box.top() * back, box.right() * back, box.bottom() * back, score)
        for box, score in zip(boxes, scores, strict=True)
    ]
    return sorted(found, key=lambda face: -face.score)


@cache
def _detector() -> Any:
    import dlib  # dlib-bin: the HOG detector is built into the extension, nothing to fetch

    return dlib.get_frontal_face_detector()


def frame(faces: Sequence[Face], width: int, height: int, *, min_side: int = 1) -> Crop:
    """The square for `faces` (pixels of the upright `width` x `height` image): see the
    module doc. CENTER when no face scores at least `MIN_SCORE`."""
    strong = [_inside(face, width, height) for face in faces if face.score >= MIN_SCORE]
    if not strong:
        return center(width, height)
    best = max(face.score for face in strong)
    strong = [face for face in strong if face.score >= best - SCORE_SPREAD]
    limit = min(width, height)
    if len(strong) > 1:
        left = min(face.left for face in strong)
        top = min(face.top for face in strong)
        right = max(face.right for face in strong)
        bottom = max(face.bottom for face in strong)
        span = max(right - left, bottom - top)
        if math.ceil(span) <= limit:
            margin = MARGIN * sum(face.side for face in strong) / len(strong)
            side = max(span + 2 * margin, min_side)
            return _placed((left + right) / 2, (top + bottom) / 2, side, span, width, height)
        strong = [max(strong, key=lambda face: (face.side, face.score))]
    face = strong[0]
    side = max(face.side / FACE_SHARE, min_side)
    middle_y = (face.top + face.bottom) / 2 - LIFT * face.side
    return _placed(
        (face.left + face.right) / 2, middle_y, side, face.side, width, height, face=face
    )


def _inside(face: Face, width: int, height: int) -> Face:
    """dlib's box clipped to the image (it may reach past an edge)."""
    return Face(
        max(0.0, face.left),
        max(0.0, face.top),
        min(float(width), face.right),
        min(float(height), face.bottom),
        face.score,
    )


def _placed(
    x: float,
    y: float,
    side: float,
    least: float,
    width: int,
    height: int,
    *,
    face: Face | None = None,
) -> Crop:
    """The square of `side` centred on (x, y), at least `least`, moved inside the image and
    shrunk to it when the image is smaller; with `face`, moved so that the face is inside."""
    whole = min(width, height)
    size = max(1, min(whole, math.ceil(max(side, least))))
    left = _clamp(round(x - size / 2), 0, width - size)
    top = _clamp(round(y - size / 2), 0, height - size)
    if face is not None:  # the lifted centre must not push the chin out of the square
        top = _clamp(top, math.ceil(face.bottom) - size, math.floor(face.top))
        top = _clamp(top, 0, height - size)
    return Crop(left, top, size, "FACE")


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _why(exc: BaseException) -> str:
    why = " ".join(str(exc).split()) or type(exc).__name__
    return why if len(why) <= 200 else why[:199] + "\u2026"
