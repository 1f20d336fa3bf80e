"""Pillow rendering of colour swatches."""

from __future__ import annotations

import functools
import io
import struct
import zlib

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


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font at `size`, loaded once: loading parses the font anew each
    time, and a font kept lays out and renders faster on later calls."""
    return ImageFont.load_default(size=size)


def _fit_font(draw: ImageDraw.ImageDraw, text: str, max_width: int, size: int):
    while size > 10:
        font = _font(size)
        if draw.textlength(text, font=font) <= max_width:
            return font
        size -= 2
    return _font(size)


INK_LEVELS = 16  # shades between background and ink: enough for anti-aliased text
_INK = INK_LEVELS - 1  # a region's last palette index: its ink
_SHADES = np.arange(INK_LEVELS)[:, None] / _INK  # (levels, 1): 0 is the background


def _blend_palette(background: tuple[int, int, int], ink: tuple[int, int, int]) -> bytes:
    """INK_LEVELS RGB entries, evenly from `background` to `ink`."""
    blend = np.array(background) * (1 - _SHADES) + np.array(ink) * _SHADES
    return np.round(blend).astype(np.uint8).tobytes()


def swatch_png(
    rgb: tuple[int, int, int],
    title: str,
    size: tuple[int, int] = SWATCH_SIZE,
    alternatives: list[tuple[int, int, int]] = (),
) -> bytes:
    """A flat swatch with the name and hex drawn on it in a contrasting colour; any
    alternatives are stacked in a band on the right, each with its own hex.

    It is a palette image, which encodes several times faster than a full-colour PNG
    and is smaller, with the same look: each region (the swatch, then each alternative)
    has INK_LEVELS entries, from its background to its ink. Text is drawn straight in
    those indices, in the region's last one: Pillow blends each pixel toward the ink by
    its coverage and rounds, which lands it on the nearest shade.
    """
    width, height = size
    band = width // 4 if alternatives else 0
    image = _swatch_text(rgb, title, size, width - band)
    for k, alt in enumerate(alternatives, start=1):
        top, bottom = (k - 1) * height // len(alternatives), k * height // len(alternatives)
        image.paste(_alternative_cell(alt, k, (band, bottom - top), height), (width - band, top))
    colours = (rgb, *alternatives)
    palette = b"".join(_blend_palette(c, contrasting_text_color(c)) for c in colours)
    image.putpalette(palette)  # the "L" image of indices becomes a "P" image
    return _palette_png(image, palette)


def _swatch_text(
    rgb: tuple[int, int, int], title: str, size: tuple[int, int], main_width: int
) -> Image.Image:
    """The name and the colour's codes, in the first region's indices (see swatch_png)."""
    width, height = size
    image = Image.new("L", size, 0)
    draw = ImageDraw.Draw(image)
    margin = width // 16
    title_font = _fit_font(draw, title, main_width - 2 * margin, height // 6)
    draw.text((margin, margin), title, fill=_INK, font=title_font)
    code = f"{hex_color(rgb)}   rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"
    code_font = _fit_font(draw, code, main_width - 2 * margin, height // 10)
    draw.text((margin, height - margin), code, fill=_INK, font=code_font, anchor="ls")
    return image


def _alternative_cell(
    rgb: tuple[int, int, int], region: int, size: tuple[int, int], swatch_height: int
) -> Image.Image:
    """One alternative's cell of the band with its hex, in its region's indices."""
    base = region * INK_LEVELS
    cell = Image.new("L", size, base)
    inset = size[0] // 10
    font = _font(max(10, swatch_height // 14))
    ImageDraw.Draw(cell).text((inset, inset), hex_color(rgb), fill=base + _INK, font=font)
    return cell


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _palette_png(image: Image.Image, palette: bytes) -> bytes:
    """A PNG of a "P" image with its palette (RGB bytes), up to 16 colours packed two
    pixels a byte as Pillow does. Written here because Pillow's encoder hands zlib one
    row at a time: for a 16-colour swatch one call over the whole image takes about two
    thirds of the time (at 8 bits the two are alike)."""
    width, height = image.size
    bits = 4 if len(palette) <= 16 * 3 else 8
    packed = image.tobytes("raw", "P;4" if bits == 4 else "P")
    rows = np.zeros((height, len(packed) // height + 1), np.uint8)  # each led by filter 0
    rows[:, 1:] = np.frombuffer(packed, np.uint8).reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, bits, 3, 0, 0, 0)  # 3: palette colour
    idat = zlib.compress(rows, 1)
    chunks = ((b"IHDR", header), (b"PLTE", palette), (b"IDAT", idat), (b"IEND", b""))
    return _PNG_SIGNATURE + b"".join(_png_chunk(kind, data) for kind, data in chunks)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


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
