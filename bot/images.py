"""Reading user-supplied images safely, and turning them into model input.

Bytes stay in memory (nothing is written to disk). Pillow's decompression-bomb guard is
kept on and its warning is treated as an error; truncated files fail on load.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

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
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput("That image has too many pixels to process safely.") from None
    except (OSError, SyntaxError, ValueError):
        raise InvalidInput(
            "That file is not a readable image (PNG, JPEG, WebP or GIF), or it is truncated."
        ) from None
    return image.convert("RGB")


def image_to_array(image: Image.Image, size: int) -> np.ndarray:
    """Centre square crop, resized to size x size, float32 RGB in [0, 1] (the encoder's input)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.convert("RGB").crop((left, top, left + side, top + side))
    resized = square.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized, dtype=np.float32) / 255.0
