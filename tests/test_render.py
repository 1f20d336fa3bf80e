"""The swatch PNG shows what the plain rendering shows, pixel for pixel, however
`swatch_png` draws and encodes it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from bot.render import INK_LEVELS, SWATCH_SIZE, contrasting_text_color, hex_color, swatch_png


def plain_font(draw: ImageDraw.ImageDraw, text: str, max_width: int, size: int):
    while size > 10:
        font = ImageFont.load_default(size=size)
        if draw.textlength(text, font=font) <= max_width:
            return font
        size -= 2
    return ImageFont.load_default(size=size)


def plain_swatch(
    rgb: tuple[int, int, int],
    title: str,
    size: tuple[int, int],
    alternatives: list[tuple[int, int, int]],
) -> np.ndarray:
    """The swatch drawn the plain way, as RGB: the text's coverage at full strength,
    rounded to the nearest of INK_LEVELS shades, each pixel its region's background
    blended that far toward the region's ink."""
    width, height = size
    band = width // 4 if alternatives else 0
    main_width, margin = width - band, width // 16
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    font = plain_font(draw, title, main_width - 2 * margin, height // 6)
    draw.text((margin, margin), title, fill=255, font=font)
    code = f"{hex_color(rgb)}   rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"
    font = plain_font(draw, code, main_width - 2 * margin, height // 10)
    draw.text((margin, height - margin), code, fill=255, font=font, anchor="ls")
    coverage = np.array(mask, int)
    region = np.zeros((height, width), int)
    small = ImageFont.load_default(size=max(10, height // 14))
    for k, alt in enumerate(alternatives, start=1):
        top, bottom = (k - 1) * height // len(alternatives), k * height // len(alternatives)
        region[top:bottom, main_width:] = k
        label = Image.new("L", (band, bottom - top), 0)
        ImageDraw.Draw(label).text((band // 10, band // 10), hex_color(alt), fill=255, font=small)
        coverage[top:bottom, main_width:] = np.asarray(label)
    shade = ((coverage * (INK_LEVELS - 1) + 127) // 255 / (INK_LEVELS - 1))[..., None]
    colours = [rgb, *alternatives]
    background = np.array(colours)[region]
    ink = np.array([contrasting_text_color(c) for c in colours])[region]
    return np.round(background * (1 - shade) + ink * shade).astype(np.uint8)


LONG = "the deep green of a forest floor at dusk"  # fits at 25 px; the font steps to 24


@pytest.mark.parametrize(
    "rgb, title, alternatives, size",
    [
        ((34, 139, 34), "forest", [], SWATCH_SIZE),
        ((250, 248, 240), "pale cream", [(200, 10, 10), (20, 20, 60)], SWATCH_SIZE),
        ((10, 10, 40), LONG, [], SWATCH_SIZE),  # the title shrinks to fit
        ((255, 255, 255), LONG * 3, [(128, 128, 128)], SWATCH_SIZE),  # too long at any size
        ((120, 130, 20), "mossy dragon", [(1, 2, 3), (250, 240, 10), (90, 90, 90)], (301, 151)),
    ],
)
def test_swatch_pixels_are_the_plain_renderings(rgb, title, alternatives, size):
    png = swatch_png(rgb, title, size=size, alternatives=alternatives)
    Image.open(io.BytesIO(png)).verify()  # chunk checksums
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.mode == "P" and image.size == size
    pixels = np.asarray(image.convert("RGB"))
    assert np.array_equal(pixels, plain_swatch(rgb, title, size, alternatives))
    main = pixels[:, : size[0] - (size[0] // 4 if alternatives else 0)].reshape(-1, 3)
    assert len(np.unique(main, axis=0)) > 8  # anti-aliased text: shades between the two
