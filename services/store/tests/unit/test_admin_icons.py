"""Icon processing with Pillow: what is accepted, what is refused and why, what comes out."""

from __future__ import annotations

import hashlib
import io

import pytest
from fuelhub_store.admin.icons import MAX_BYTES, IconRejectedError, process_icon
from fuelhub_store.admin.testing import (
    NOT_AN_IMAGE,
    SVG,
    jpeg_with_exif,
    noisy_png,
    png,
    png_bomb,
)
from PIL import Image


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_png_becomes_square_pngs_at_64_and_128() -> None:
    icon = process_icon(png(300, 100))
    assert sorted(icon.renditions) == [64, 128]
    for size, data in icon.renditions.items():
        image = opened(data)
        assert (image.format, image.size, image.mode) == ("PNG", (size, size), "RGBA")


def test_name_is_the_sha256_of_the_128_px_rendition() -> None:
    icon = process_icon(png(50, 50))
    assert icon.digest == hashlib.sha256(icon.renditions[128]).hexdigest()


def test_non_square_image_is_padded_with_transparency_not_stretched() -> None:
    image = opened(process_icon(png(300, 100)).renditions[128])
    assert image.getpixel((64, 0))[3] == 0  # top band: transparent padding
    assert image.getpixel((64, 64)) == (200, 30, 30, 255)


def test_jpeg_exif_is_stripped_and_orientation_applied() -> None:
    icon = process_icon(jpeg_with_exif(300, 200))
    image = opened(icon.renditions[128])
    assert not image.getexif()
    assert "exif" not in image.info
    assert b"TestCamera" not in icon.renditions[128]
    # Orientation 6 turns 300×200 into 200×300: the padding is now left and right.
    assert image.getpixel((0, 64))[3] == 0
    assert image.getpixel((64, 0))[3] == 255


def test_webp_is_accepted() -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 40), (0, 255, 0)).save(out, format="WEBP")
    assert opened(process_icon(out.getvalue()).renditions[64]).size == (64, 64)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (NOT_AN_IMAGE, "not a PNG, JPEG or WebP"),
        (SVG, "SVG images are refused"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG images are refused"),
        (png(4097, 10), "at most 4096×4096 px"),
        (png_bomb(), "decompression bomb"),
        (png(100, 100)[:200], "damaged or truncated"),
    ],
    ids=["empty", "text", "svg", "bare-svg", "too-wide", "bomb", "truncated"],
)
def test_refused_with_a_message(data: bytes, message: str) -> None:
    with pytest.raises(IconRejectedError, match=message):
        process_icon(data)


def test_file_over_2_mb_is_refused_before_decoding() -> None:
    data = noisy_png(MAX_BYTES + 1)
    with pytest.raises(IconRejectedError, match="at most 2 MB"):
        process_icon(data)


def test_gif_is_refused_even_though_pillow_reads_it() -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    with pytest.raises(IconRejectedError, match="not a PNG, JPEG or WebP"):
        process_icon(out.getvalue())
