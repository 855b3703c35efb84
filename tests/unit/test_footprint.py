"""images.footprint: each format's decode priced from its header, refused over its limits.

Pure: no pixel is decoded here (the bench measures that the prices hold). The files are the
worst cases of `testkit.bombs`, or headers forged to a size.
"""

from __future__ import annotations

import pytest

from profile_photos.errors import UnsupportedMediaType
from profile_photos.images import footprint, jpeg
from profile_photos.settings import load_settings
from testkit import bombs

MIB = 1024 * 1024
LIMIT = footprint.budget(1024)


def test_the_budget_is_seventy_percent_of_the_memory_less_the_process() -> None:
    assert footprint.budget(1024) == (716 - 160) * MIB
    assert footprint.budget(2048) == (1433 - 160) * MIB
    assert footprint.budget(128) == 64 * MIB  # never below a small photo's needs


def test_the_budget_follows_the_functions_memory_size() -> None:
    env = {"LOCAL_STORAGE_SECRET": "s" * 32, "JWT_SECRET": "j" * 32}
    assert load_settings(env).memory_size_mb == 1024
    assert load_settings(env | {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048"}).memory_size_mb == 2048


@pytest.mark.parametrize(
    ("side", "accepted"),
    [(5000, True), (5800, True), (6100, False), (10000, False)],
)
def test_a_webp_canvas_is_priced_at_sixteen_bytes_a_pixel(side: int, accepted: bool) -> None:
    data = bombs.webp_canvas_bomb(side)

    assert footprint.price(data, "image/webp") == footprint.Price(side * side * 16)
    if accepted:
        footprint.check(data, "image/webp", LIMIT)
    else:
        with pytest.raises(UnsupportedMediaType, match=rf"^Image is {side}x{side} px; decoding"):
            footprint.check(data, "image/webp", LIMIT)


def test_a_larger_memory_size_admits_a_larger_webp() -> None:
    data = bombs.webp_canvas_bomb(7000)

    with pytest.raises(UnsupportedMediaType):
        footprint.check(data, "image/webp", footprint.budget(1024))
    footprint.check(data, "image/webp", footprint.budget(2048))


def test_a_progressive_jpeg_is_priced_by_its_coefficient_buffer_and_scans() -> None:
    grey = bombs.scan_bomb(0)
    frame = jpeg.frame(grey)

    assert (frame.width, frame.height, frame.progressive) == (10000, 10000, True)
    assert len(frame.scans) == 6  # libjpeg's standard script for one component
    # 2 bytes a coefficient, one component; 1250x1250 blocks visited by each of 6 scans
    assert footprint.price(grey, "image/jpeg") == footprint.Price(
        10000 * 10000 * 2, scan_blocks=6 * 1250 * 1250
    )
    footprint.check(grey, "image/jpeg", LIMIT)


def test_each_repeated_scan_costs_a_whole_pass_and_the_work_is_capped() -> None:
    blocks = 1250 * 1250
    just_under = bombs.scan_bomb(footprint.MAX_SCAN_BLOCKS // blocks - 6)
    over = bombs.scan_bomb(footprint.MAX_SCAN_BLOCKS // blocks - 5)

    footprint.check(just_under, "image/jpeg", LIMIT)
    with pytest.raises(UnsupportedMediaType, match=r"^Invalid image file: its scans decode"):
        footprint.check(over, "image/jpeg", LIMIT)


def test_more_scans_than_libjpeg_turbos_limit_is_an_invalid_file() -> None:
    at_limit = bombs.scan_bomb(jpeg.MAX_SCANS - 6, side=256)
    over = bombs.scan_bomb(jpeg.MAX_SCANS - 5, side=256)

    assert len(jpeg.frame(at_limit).scans) == jpeg.MAX_SCANS
    with pytest.raises(UnsupportedMediaType, match="more than 500 scans"):
        footprint.check(over, "image/jpeg", LIMIT)


def test_baseline_jpegs_decode_at_a_dct_scale_and_pass_at_the_pixel_cap() -> None:
    cost = footprint.price(bombs.baseline_jpeg(), "image/jpeg")

    assert cost.memory == 3 * 100_000_000 // 4
    assert cost.scan_blocks == 3 * 1250 * 1250  # one interleaved scan
    footprint.check(bombs.baseline_jpeg(), "image/jpeg", LIMIT)


def test_pngs_are_priced_by_their_decoded_mode() -> None:
    rgba16 = bombs.png(16, alpha=True, side=2000)
    grey16 = bombs.png(16, alpha=False, grey=True, side=2000)
    grey8 = bombs.png(8, alpha=False, grey=True, side=2000)

    assert footprint.price(rgba16, "image/png") == footprint.Price(
        int(4_000_000 * 4 * 1.3), inflated=2000 * (1 + 2000 * 8)
    )
    assert footprint.price(grey16, "image/png").memory == int(4_000_000 * 7 * 1.3)
    assert footprint.price(grey8, "image/png").memory == int(4_000_000 * 1 * 1.3)


def test_a_100_mp_16_bit_png_inflates_too_much_and_an_8_bit_one_does_not() -> None:
    footprint.check(bombs.png(8, alpha=True), "image/png", LIMIT)  # 100 MP: 400 MB of rows
    with pytest.raises(UnsupportedMediaType, match=r"rows inflate to 800 MB, more than the 420"):
        footprint.check(bombs.png(16, alpha=True), "image/png", LIMIT)


def test_an_invalid_header_is_refused_before_any_price() -> None:
    with pytest.raises(UnsupportedMediaType, match=r"^Invalid image file: "):
        footprint.check(b"\xff\xd8\xff\xc2\x00", "image/jpeg", LIMIT)
    with pytest.raises(UnsupportedMediaType, match="megapixels"):
        footprint.check(bombs.webp_canvas_bomb(16384), "image/webp", 1 << 40)
