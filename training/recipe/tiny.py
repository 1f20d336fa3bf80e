"""`--tiny`'s data, made on the fly and laid out like data/ (seeded: the GPU side and the
ship side make the same files), so the whole chain runs in CI without a download."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

WORDS = {
    "tinyshakespeare.txt": (
        ["the king", "my lord", "fair juliet", "the fool", "good romeo"],
        ["doth love", "shall see", "hath slain", "would speak", "must fly"],
        ["the crown.", "thy face!", "a rose.", "this night?", "the sword;"],
    ),
    "nietzsche.txt": (
        ["the will", "every morality", "the philosopher", "truth", "the herd"],
        ["overcomes", "demands", "conceals", "values", "denies"],
        ["itself.", "the instinct.", "all values!", "a mask.", "the senses?"],
    ),
}
COLOR_WORDS = {
    "red": (200, 30, 30), "green": (40, 160, 50), "blue": (30, 60, 200), "yellow": (230, 210, 40),
    "purple": (120, 50, 150), "orange": (240, 140, 30), "grey": (128, 128, 128),
    "brown": (120, 80, 40), "pink": (240, 150, 180), "teal": (30, 140, 140),
}  # fmt: skip
SHADES = {"": 1.0, "dark ": 0.55, "deep ": 0.7, "light ": 1.35, "pale ": 1.6}
THINGS = ["", " sky", " stone", " leaf", " dust", " wave"]
CAPTION_COLORS = ["red", "green", "blue", "yellow"]
CAPTION_SHAPES = ["square", "ball", "car", "house"]
CAPTION_TEMPLATES = ("a {c} {s}", "the {s} is {c}", "a small {c} {s} on the grass")


def _text(words: tuple[list[str], list[str], list[str]], seed: int, lines: int = 400) -> str:
    rng = random.Random(seed)
    return "".join(
        f"{rng.choice(words[0])} {rng.choice(words[1])} {rng.choice(words[2])}\n"
        for _ in range(lines)
    )


def _colors(path: Path) -> None:
    rows = ["name,red,green,blue"]
    for colour, rgb in COLOR_WORDS.items():
        for shade, factor in SHADES.items():
            for k, thing in enumerate(THINGS):
                value = [min(255, max(0, round(c * factor + 7 * k))) for c in rgb]
                rows.append(f"{shade}{colour}{thing},{value[0]},{value[1]},{value[2]}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _paintings(folder: Path, count: int = 40, size: int = 8) -> None:
    """Landscapes of sky, water and land bands (so a painter has something to learn)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    sky, water, land = ([90, 150, 230], [230, 200, 150]), ([30, 80, 160],), ([60, 140, 60],)
    for i in range(count):
        horizon = int(rng.integers(2, size - 2))
        image = np.zeros((size, size, 3), np.uint8)
        image[:horizon] = sky[i % 2]
        image[horizon:] = (water if i % 3 else land)[0]
        image = np.clip(image + rng.integers(-12, 13, image.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"tiny{i:03d}.png")


def _captions(folder: Path) -> None:
    """Three captions for each of 80 pictures (none need exist: the concept LM reads the
    captions alone); the first 8 pictures are 'the photos to caption', held out of it."""
    rows, photos = ["image,caption"], ["image,caption"]
    for i in range(80):
        colour = CAPTION_COLORS[i % len(CAPTION_COLORS)]
        shape = CAPTION_SHAPES[(i // len(CAPTION_COLORS)) % len(CAPTION_SHAPES)]
        captions = [t.format(c=colour, s=shape) for t in CAPTION_TEMPLATES]
        rows += [f"pic{i:03d}.jpg,{c}" for c in captions]
        if i < 8:
            photos += [f"pic{i:03d}.jpg,{c}" for c in captions]
    (folder / "flickr8k_captions_train.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "images").mkdir(exist_ok=True)
    (folder / "images" / "captions.csv").write_text("\n".join(photos) + "\n", encoding="utf-8")


def make_tiny_data(root: Path) -> Path:
    """Write the tiny data sets under `root` (text/, colors/, paintings/monet/, captions/)."""
    root = Path(root)
    for sub in ("text", "colors", "paintings/monet", "captions"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for seed, (name, words) in enumerate(WORDS.items()):
        (root / "text" / name).write_text(_text(words, seed), encoding="utf-8")
    _colors(root / "colors" / "colors.csv")
    _paintings(root / "paintings" / "monet")
    _captions(root / "captions")
    return root
