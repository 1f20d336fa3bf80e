"""Pillow rendering of colour swatches."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SWATCH_SIZE = (512, 256)


def hex_color(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def parse_hex(value: str) -> tuple[int, int, int]:
    n = int(value.removeprefix("#"), 16)
    return (n >> 16) & 255, (n >> 8) & 255, n & 255


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance, the basis of its contrast ratio."""
    channels = []
    for value in rgb:
        c = value / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrasting_text_color(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever has the higher WCAG contrast ratio against `rgb`."""
    lum = relative_luminance(rgb)
    return (0, 0, 0) if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else (255, 255, 255)


def _fit_font(draw: ImageDraw.ImageDraw, text: str, max_width: int, size: int):
    while size > 10:
        font = ImageFont.load_default(size=size)
        if draw.textlength(text, font=font) <= max_width:
            return font
        size -= 2
    return ImageFont.load_default(size=size)


INK_LEVELS = 16  # shades between background and ink: enough for anti-aliased text
_TO_LEVEL = [(v * (INK_LEVELS - 1) + 127) // 255 for v in range(256)]


def _blend_palette(background: tuple[int, int, int], ink: tuple[int, int, int]) -> list[int]:
    palette = []
    for level in range(INK_LEVELS):
        a = level / (INK_LEVELS - 1)
        palette += [round(b * (1 - a) + i * a) for b, i in zip(background, ink, strict=True)]
    return palette


def swatch_png(
    rgb: tuple[int, int, int],
    title: str,
    size: tuple[int, int] = SWATCH_SIZE,
    alternatives: list[tuple[int, int, int]] = (),
) -> bytes:
    """A flat swatch with the name and hex drawn on it in a contrasting colour; any
    alternatives are stacked in a band on the right, each with its own hex.

    The text is drawn as a coverage mask and stored as a palette image (per region: the
    background, the ink and 14 shades between), which encodes several times faster than
    a full-colour PNG and is smaller, with the same look.
    """
    width, height = size
    band = width // 4 if alternatives else 0
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    margin = width // 16
    main_width = width - band
    title_font = _fit_font(draw, title, main_width - 2 * margin, height // 6)
    draw.text((margin, margin), title, fill=255, font=title_font)
    code = f"{hex_color(rgb)}   rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"
    code_font = _fit_font(draw, code, main_width - 2 * margin, height // 10)
    draw.text((margin, height - margin), code, fill=255, font=code_font, anchor="ls")
    levels = np.array(mask.point(_TO_LEVEL), np.uint8)
    region = np.zeros((height, width), np.uint8)
    colours = [rgb, *alternatives]
    small = ImageFont.load_default(size=max(10, height // 14))
    for k, alt in enumerate(alternatives, start=1):
        top, bottom = (k - 1) * height // len(alternatives), k * height // len(alternatives)
        region[top:bottom, main_width:] = k
        label = Image.new("L", (band, bottom - top), 0)
        ImageDraw.Draw(label).text((band // 10, band // 10), hex_color(alt), fill=255, font=small)
        levels[top:bottom, main_width:] = np.asarray(label.point(_TO_LEVEL))
    image = Image.frombytes("P", size, (region * INK_LEVELS + levels).astype(np.uint8).tobytes())
    palette = []
    for colour in colours:
        palette += _blend_palette(colour, contrasting_text_color(colour))
    image.putpalette(palette)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


PALETTE_COLUMN = (200, 300)  # one colour's column: the swatch, then its names below


def palette_png(columns: list[tuple[tuple[int, int, int], str, str, str]]) -> bytes:
    """A strip of swatches, one column per (rgb, hex, known name, invented name): the hex
    on the colour, the two names on white below it."""
    width, height = PALETTE_COLUMN
    swatch = width
    image = Image.new("RGB", (width * max(1, len(columns)), height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    margin = width // 12
    for i, (rgb, code, known, invented) in enumerate(columns):
        left = i * width
        draw.rectangle((left, 0, left + width - 1, swatch - 1), fill=rgb)
        font = _fit_font(draw, code, width - 2 * margin, width // 8)
        ink = contrasting_text_color(rgb)
        draw.text((left + margin, swatch - margin), code, fill=ink, font=font, anchor="ls")
        for row, text in enumerate((known, invented)):
            label = text or "-"
            font = _fit_font(draw, label, width - 2 * margin, width // 11)
            top = swatch + margin + row * (height - swatch) // 2
            draw.text((left + margin, top), label, fill=(20, 20, 20), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
