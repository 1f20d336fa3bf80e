"""Pillow rendering of colour swatches."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

SWATCH_SIZE = (512, 256)


def hex_color(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


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


def swatch_png(rgb: tuple[int, int, int], title: str, size: tuple[int, int] = SWATCH_SIZE) -> bytes:
    """A flat swatch with the name and hex drawn on it in a contrasting colour.

    The text is drawn as a coverage mask and stored as a 16-colour palette image (the
    background, the ink and the shades between), which encodes several times faster than
    a full-colour PNG and is smaller, with the same look.
    """
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    margin = size[0] // 16
    title_font = _fit_font(draw, title, size[0] - 2 * margin, size[1] // 6)
    draw.text((margin, margin), title, fill=255, font=title_font)
    code = f"{hex_color(rgb)}   rgb({rgb[0]}, {rgb[1]}, {rgb[2]})"
    code_font = _fit_font(draw, code, size[0] - 2 * margin, size[1] // 10)
    draw.text((margin, size[1] - margin), code, fill=255, font=code_font, anchor="ls")
    image = Image.frombytes("P", size, mask.point(_TO_LEVEL).tobytes())
    image.putpalette(_blend_palette(rgb, contrasting_text_color(rgb)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
