"""The decode check: a file becomes a photo only if a decoder can draw it.

The header checks (`images.read_dimensions`, `check_dimensions`) prove a file's structure;
they do not prove that its pixels decode. A truncated scan, a PNG with an unknown compression
method, an APNG whose frame control is broken, a PNG whose text chunks are a decompression
attack: each passes a structure walk and is a profile that no viewer can display and no
rendition can be made from. `check_decodes` runs the decoder the renditions use
(`images.render.check`: Pillow, pillow-heif for HEIC/HEIF) on the bytes as sent, before the
upload is charged or stored; whatever fails is 415 `Image could not be decoded: <why>`.

This module is standard library at import: Pillow (in ImagingLayer) is loaded by the first
upload that reaches the check, not when the upload function starts, so a cold start that
ends in a refused request (401, 400, 429) never pays for it. That first check costs ~60 ms
more than the import alone (`make bench`, decode check: Pillow's import and a small JPEG,
in fresh processes).
"""

from __future__ import annotations

__all__ = ["check_decodes", "upright_size"]


def check_decodes(data: bytes, content_type: str, memory_limit: int) -> None:
    """Raise `UnsupportedMediaType` (415) unless the first frame (the primary image) of
    `data` decodes within `memory_limit` bytes and the scan work limit (priced from the
    header first, `images.footprint`: a file over either is never handed to a decoder)."""
    from profile_photos.images import render  # Pillow: loaded on the first check only

    render.check(data, content_type, memory_limit=memory_limit)


def upright_size(data: bytes, content_type: str) -> tuple[int, int]:
    """(width, height) as the photo is shown (orientation applied), from its header: the
    pixels a user's crop box is given in. For a file `check_decodes` accepted."""
    from profile_photos.images import render

    return render.upright_size(data, content_type)
