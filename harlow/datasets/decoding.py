"""Reading any accepted image file as 8-bit RGB, or saying exactly why not.

Accepted: JPEG, PNG, WebP, BMP and TIFF of any size from 32 px per side up to
``MAX_PIXELS``. EXIF orientation is applied. Grayscale, palette, CMYK and 16-bit
images become 8-bit RGB (16-bit values are scaled, 65535 -> 255); transparent
images (RGBA, LA, palette or grayscale with a transparent colour) are composited
on WHITE, so a transparent background stays visible on Psychlab's black screen.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from harlow.datasets.files import read_regular_file
from harlow.datasets.storage import sha256_hex

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF")
MAX_PIXELS = 50_000_000
MAX_FILE_BYTES = 256 * 2**20  # an uncompressed 50-megapixel image fits
MIN_SIDE = 32
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_BACKGROUND = (255, 255, 255)


class BadImageError(ValueError):
    """A file that cannot become a dataset image; the message says why."""


@dataclass(frozen=True)
class DecodedImage:
    """An image file read as ``[H, W, 3]`` uint8 RGB, upright, with its file digest."""

    rgb: np.ndarray
    file_sha256: str


def read_rgb(path: Path) -> DecodedImage:
    """Reads ``path`` as upright 8-bit RGB; raises ``BadImageError`` with the reason if it can't."""
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except OSError as e:
        raise BadImageError(f"cannot be read ({e.strerror or e})") from e
    if not data:
        raise BadImageError("empty file (0 bytes)")
    try:
        with _pixel_limit(MAX_PIXELS), Image.open(io.BytesIO(data)) as image:
            if image.format not in ACCEPTED_FORMATS:
                raise BadImageError(
                    f"{image.format} images are not accepted (accepted: JPEG, PNG, WebP, BMP, TIFF)"
                )
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = _to_rgb8(upright)
    except BadImageError:
        raise
    except UnidentifiedImageError as e:
        raise BadImageError("not a readable image (Pillow recognises no image format in it)") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadImageError(
            f"decompression bomb: over the {MAX_PIXELS:,}-pixel limit (Pillow: {e})"
        ) from e
    except Exception as e:  # a damaged file can make a decoder raise almost anything
        raise BadImageError(f"truncated or corrupt image ({type(e).__name__}: {e})") from e
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise BadImageError(f"too small: {width}x{height}, each side needs at least {MIN_SIDE} px")
    return DecodedImage(rgb=rgb, file_sha256=sha256_hex(data))


@contextlib.contextmanager
def _pixel_limit(limit: int) -> Iterator[None]:
    """Pillow's bomb limit set to ``limit``, its bomb warning raised as an error."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _to_rgb8(image: Image.Image) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB of a Pillow image of any supported mode."""
    if image.mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image).astype(np.float64)
        gray = np.round(np.clip(values, 0, 65535) / 257.0).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode == "F":
        raise BadImageError(
            "32-bit floating-point images are not accepted (no defined 0..255 range)"
        )
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        return np.asarray(Image.alpha_composite(canvas, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))
