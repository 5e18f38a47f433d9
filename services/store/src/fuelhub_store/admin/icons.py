"""Icon uploads: checked and normalised with Pillow (pure: bytes in, PNG bytes out).

Only real raster images are accepted (PNG, JPEG, WebP; SVG and anything else refused), at most
``MAX_BYTES`` and ``MAX_SIDE`` px a side. Pillow's decompression-bomb guard is on (a declared
size far past the limit is refused before any pixel is decoded), the file is verified, then
decoded, turned upright by its EXIF orientation, padded to a transparent square and re-encoded
at each of ``SIZES`` from fresh pixels, so no metadata (EXIF, text chunks, ICC) survives.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES: Final = 2 * 1024 * 1024
MAX_SIDE: Final = 4096
SIZES: Final = (64, 128)
FORMATS: Final = ("PNG", "JPEG", "WEBP")
# Pillow warns past MAX_IMAGE_PIXELS and refuses past twice that; we refuse at the warning.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE


class IconRejectedError(ValueError):
    """The upload cannot be an icon; ``str(exc)`` is the message shown to the admin."""


@dataclass(frozen=True, slots=True)
class ProcessedIcon:
    digest: str  # sha256 of the largest rendition, hex: the content address of every size
    renditions: dict[int, bytes]  # size in px -> PNG bytes


def _looks_like_svg(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            image.verify()  # structure and checksums; the object is unusable afterwards
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            if image.width > MAX_SIDE or image.height > MAX_SIDE:
                raise IconRejectedError(
                    f"The image is {image.width}×{image.height} px; at most "
                    f"{MAX_SIDE}×{MAX_SIDE} px is accepted."
                )
            image.seek(0)  # first frame of an animation
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise IconRejectedError(
            f"The image declares more than {MAX_SIDE}×{MAX_SIDE} pixels (a possible "
            "decompression bomb)."
        ) from None
    except UnidentifiedImageError:
        raise IconRejectedError(
            "The file is not a PNG, JPEG or WebP image (other formats are refused)."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, IconRejectedError):
            raise
        raise IconRejectedError("The image is damaged or truncated and cannot be read.") from None
    return image


def _square(image: Image.Image) -> Image.Image:
    # Broken EXIF: keep the pixels as stored (the EXIF is dropped anyway).
    with contextlib.suppress(OSError, ValueError, TypeError, SyntaxError):
        image = ImageOps.exif_transpose(image) or image
    rgba = image.convert("RGBA")
    side = max(rgba.width, rgba.height)
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))  # fresh: carries no metadata
    canvas.paste(rgba, ((side - rgba.width) // 2, (side - rgba.height) // 2))
    return canvas


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def process_icon(data: bytes) -> ProcessedIcon:
    """Check an uploaded file and render it as square PNGs; raise :class:`IconRejectedError`."""
    if not data:
        raise IconRejectedError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise IconRejectedError(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; at most 2 MB is accepted."
        )
    if _looks_like_svg(data):
        raise IconRejectedError("SVG images are refused; upload a PNG, JPEG or WebP image.")
    square = _square(_open(data))
    renditions = {
        size: _png(square.resize((size, size), Image.Resampling.LANCZOS)) for size in SIZES
    }
    digest = hashlib.sha256(renditions[max(SIZES)]).hexdigest()
    return ProcessedIcon(digest=digest, renditions=renditions)
