"""Images as people send them: phone photos with EXIF orientation, 16-bit PNGs,
transparency, and files or streams larger than the limit."""

import io

import numpy as np
import pytest
from PIL import Image

from bot.errors import InvalidInput
from bot.images import MAX_BYTES, open_image, read_image_file


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_exif_orientation_is_honoured():
    # Stored landscape, red on the left; EXIF says "rotate 90 degrees clockwise to view".
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = open_image(encoded(stored, "JPEG", exif=exif, quality=95))
    assert upright.size == (20, 40)  # portrait, as the phone showed it
    red, green, blue = upright.getpixel((10, 5))
    assert red > 200 and blue < 60  # the red half is now on top


def test_sixteen_bit_png_keeps_its_tones():
    grey = Image.fromarray(np.full((8, 8), 30000, np.uint16))
    assert grey.mode == "I;16"
    pixel = open_image(encoded(grey, "PNG")).getpixel((0, 0))
    assert pixel == (117, 117, 117)  # 30000 / 65535 of white, not clipped to 255


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparency_is_composited_on_white(mode):
    image = Image.new("RGBA", (8, 8), (255, 0, 0, 0))  # fully transparent red
    image.paste((0, 0, 255, 255), (0, 0, 4, 8))  # opaque blue on the left
    if mode == "LA":
        image = image.convert("LA")
    elif mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
        image.info["transparency"] = image.getpixel((7, 0))
    rgb = open_image(
        encoded(
            image, "PNG", **({"transparency": image.info["transparency"]} if mode == "P" else {})
        )
    )
    assert rgb.getpixel((7, 0)) == (255, 255, 255)
    assert rgb.getpixel((0, 0)) != (255, 255, 255)


def test_reading_stops_at_the_limit(tmp_path):
    with pytest.raises(InvalidInput, match="larger than 8 MB"):
        read_image_file("/dev/zero")  # endless: must not grow past the limit
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (MAX_BYTES + 1))
    with pytest.raises(InvalidInput, match="larger than 8 MB"):
        read_image_file(big)
    with pytest.raises(InvalidInput, match="cannot read"):
        read_image_file(tmp_path / "missing.png")
    ok = tmp_path / "ok.png"
    ok.write_bytes(encoded(Image.new("RGB", (4, 4)), "PNG"))
    assert open_image(read_image_file(ok)).size == (4, 4)
