"""`/palette`: a picture's five dominant colours, named twice, the same for the same image;
in the service, the console and CLI, and on the local Discord (command and right-click)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
from PIL import Image

from bot.palette.service import dominant_colors, downsized
from training.colorspace import ciede2000, srgb_to_lab

FLAT = [(200, 30, 30), (20, 160, 60), (240, 220, 90), (30, 40, 150), (90, 90, 90)]
SHARES = [0.3, 0.25, 0.2, 0.15, 0.1]


def flat_picture() -> bytes:
    """Five flat colours in bands of known widths, saved as a JPEG (its artefacts are the
    test's noise), 400 x 200."""
    pixels = np.zeros((200, 400, 3), np.uint8)
    left = 0
    for rgb, share in zip(FLAT, SHARES, strict=True):
        right = left + round(400 * share)
        pixels[:, left:right] = rgb
        left = right
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_five_flat_colours_come_back_within_a_ciede2000_of_2():
    found = dominant_colors(downsized(Image.open(io.BytesIO(flat_picture()))))
    assert len(found) == 5
    got = srgb_to_lab(np.array([rgb for rgb, _ in found]) / 255.0)
    want = srgb_to_lab(np.array(FLAT) / 255.0)
    distances = ciede2000(got[:, None], want[None])  # (found, real)
    assert distances.min(axis=1).max() < 2.0, distances.min(axis=1)
    assert sorted(distances.argmin(axis=1).tolist()) == [0, 1, 2, 3, 4]  # each one once
    shares = [share for _, share in found]
    assert np.allclose(shares, SHARES, atol=0.03) and shares == sorted(shares, reverse=True)


def test_a_control_of_one_colour_is_one_colour_and_noise_is_still_five():
    grey = np.full((50, 50, 3), 128, np.uint8)
    assert dominant_colors(downsized(Image.fromarray(grey))) == [((128, 128, 128), 1.0)]
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert len(dominant_colors(downsized(Image.fromarray(noise)))) == 5


def test_the_same_image_gives_the_same_palette_and_names(services):
    picture = flat_picture()
    first = services.palette.palette(picture)
    again = services.palette.palette(picture)
    assert first == again
    assert all(c.known for c in first.colors)
    assert all(c.invented for c in first.colors) and not first.notes
    strip = Image.open(io.BytesIO(services.palette.render(first)))
    assert strip.size == (1000, 300)
    for i, colour in enumerate(first.colors):  # each column's swatch is its colour
        assert strip.convert("RGB").getpixel((i * 200 + 100, 40)) == colour.rgb


def test_cli_palette_json(model_dir, tmp_path):
    picture = tmp_path / "flat.jpg"
    picture.write_bytes(flat_picture())
    out = tmp_path / "strip.png"
    done = subprocess.run(
        [sys.executable, "-m", "bot", "palette", str(picture), "--json", "--out", str(out)]
        + ["--model-dir", str(model_dir), "--cpu"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert len(payload["colors"]) == 5 and payload["image"] == str(out)
    assert {"hex", "rgb", "share", "known", "invented"} <= set(payload["colors"][0])
    assert Image.open(out).size == (1000, 300)


def test_palette_on_the_local_discord(services):
    from tests.discord_harness import run_with_bot

    picture = flat_picture()

    async def scenario(discord, bot):
        asked = await discord.run("palette", attachments={"image": (picture, "image/jpeg")})
        text = asked.message["content"]
        assert text.count("`#") == 5 and "palette.png" in str(asked.message["attachments"])
        posted = discord.message_payload("look", attachments={"photo.jpg": (picture, "image/jpeg")})
        menu = await discord.run_menu("Palette of this image", message=posted)
        assert menu.message["content"] == text  # the same image, the same palette
        bare = discord.message_payload("no picture here")
        refused = await discord.run_menu("Palette of this image", message=bare)
        assert refused.final.ephemeral and "no image" in refused.final.text
        wrong = await discord.run("palette", attachments={"image": (b"hello", "text/plain")})
        assert wrong.final.ephemeral and "attach an image" in wrong.final.text

    run_with_bot(services, scenario)
