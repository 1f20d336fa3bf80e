"""Reading user-supplied images safely, and turning them into model input.

Bytes stay in memory (nothing is written to disk). Pillow's decompression-bomb guard is
kept on and its warning is treated as an error; truncated files fail on load.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from bot.errors import InvalidInput

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
ALLOWED_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "GIF": "GIF"}


def open_image(data: bytes, max_bytes: int = MAX_BYTES) -> Image.Image:
    """A decoded RGB image (the first frame of a GIF), or InvalidInput saying why not."""
    if len(data) > max_bytes:
        limit = max_bytes / 2**20
        raise InvalidInput(
            f"That file is {len(data) / 2**20:.1f} MB; images up to {limit:.0f} MB please."
        )
    if not data:
        raise InvalidInput("That file is empty.")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ALLOWED_FORMATS:
                raise InvalidInput(
                    f"{image.format or 'That'} files are not supported; send a PNG, JPEG, "
                    "WebP or GIF image."
                )
            image.seek(0)
            image.load()
            return to_rgb(image)
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput("That image has too many pixels to process safely.") from None
    except (OSError, SyntaxError, ValueError):
        raise InvalidInput(
            "That file is not a readable image (PNG, JPEG, WebP or GIF), or it is truncated."
        ) from None


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB as a person sees the picture: upright (EXIF orientation), transparent parts
    on white, 16-bit greyscale scaled to 8 bits (Pillow's plain conversion clips it)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def read_image_file(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """Read at most the size limit from a file or stream (a pipe or /dev/zero never makes
    this grow past it), with clear errors."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InvalidInput(
            f"{path} is larger than {max_bytes / 2**20:.0f} MB; images up to "
            f"{max_bytes / 2**20:.0f} MB please."
        )
    return data


def image_pixels(image: Image.Image, size: int) -> np.ndarray:
    """The image encoder's input, defined once for training, evaluation and the bot:
    the centre square, resized to size x size (bilinear), as uint8 RGB (size, size, 3)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.convert("RGB").crop((left, top, left + side, top + side))
    resized = square.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.uint8)
