"""HEIC/HEIF originals are decoded by pi-heif, the decode-only build the imaging layer ships.

pillow-heif is a dev requirement only, to write HEIC test files (its wheels bundle the x265
encoder, GPL). The tests write with it through its own API and never register it as Pillow's
HEIF opener, so a HEIC decoded in a test goes through the same plugin as in production; and
the service itself never imports it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from profile_photos.images.render import decode
from testkit import images

ROOT = Path(__file__).resolve().parents[2]


def test_a_heic_the_tests_write_is_decoded_by_pi_heif_in_the_same_process() -> None:
    # Given the service has decoded a HEIC once (its opener, pi-heif, is registered)
    assert decode(images.heic_bytes(), "image/heic").format == "HEIF"

    # When the test-side writer (pillow-heif) writes another HEIC in this process
    data = images.heic(Image.new("RGB", (96, 64), (200, 30, 30)), quality=90)
    assert "pillow_heif" in sys.modules

    # Then the service decodes it with pi-heif's plugin, as a HEIC and as a HEIF, and
    # pillow-heif is no opener of Pillow's
    for content_type in ("image/heic", "image/heif"):
        image = decode(data, content_type)
        assert image.format == "HEIF"
        assert type(image).__module__.split(".")[0] == "pi_heif", type(image)
        assert image.size == (96, 64)
    openers = {name: factory.__module__ for name, (factory, _) in Image.OPEN.items()}
    assert openers["HEIF"].split(".")[0] == "pi_heif", openers["HEIF"]
    assert not [name for name, module in openers.items() if module.startswith("pillow_heif")]


def test_the_service_decodes_and_renders_a_heic_without_loading_pillow_heif(
    tmp_path: Path,
) -> None:
    # Given a HEIC on disk, and a fresh interpreter that only imports the renderer
    path = tmp_path / "photo.heic"
    path.write_bytes(images.camera_heic(640, 480))
    code = (
        "import json, sys\n"
        "from profile_photos.images import render\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "image = render.decode(data, 'image/heic')\n"
        "made = render.render(data, 'image/heic').values()\n"
        "sizes = sorted(((r.width, r.height) for r in made), reverse=True)\n"
        "roots = sorted({m.split('.')[0] for m in sys.modules} & {'pi_heif', 'pillow_heif'})\n"
        "print(json.dumps({'plugin': type(image).__module__, 'sizes': sizes, 'roots': roots}))\n"
    )

    # When it decodes and renders the file
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    # Then pi-heif did (the largest rendition is the original's size), and no module of
    # pillow-heif was ever loaded
    seen = json.loads(result.stdout)
    assert seen["plugin"].split(".")[0] == "pi_heif", seen
    assert seen["roots"] == ["pi_heif"], seen
    assert seen["sizes"][0] == [640, 480], seen
