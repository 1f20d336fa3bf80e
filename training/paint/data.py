"""Paintings as token streams: resize, learn a K-colour palette by k-means, quantise."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from training.errors import UserError


@dataclass
class Paintings:
    names: list[str]
    pixels: np.ndarray  # (n, size, size, 3) uint8
    skipped: Counter = field(default_factory=Counter)


def load_paintings(folder: Path, size: int) -> Paintings:
    """Every readable image in `folder`, centre-cropped square and resized to size x size."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a directory")
    names, arrays, skipped = [], [], Counter()
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            with Image.open(path) as image:
                image.load()
                rgb = image.convert("RGB")
        except (UnidentifiedImageError, OSError, SyntaxError):
            skipped["not a readable image"] += 1
            continue
        side = min(rgb.size)
        left, top = (rgb.width - side) // 2, (rgb.height - side) // 2
        square = rgb.crop((left, top, left + side, top + side))
        arrays.append(np.asarray(square.resize((size, size), Image.Resampling.LANCZOS)))
        names.append(path.name)
    if not names:
        raise UserError(f"no readable images in {folder} ({sum(skipped.values())} files skipped)")
    return Paintings(names, np.stack(arrays).astype(np.uint8), skipped)


def is_validation(name: str, fraction: float = 0.1) -> bool:
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") < fraction * 2**32


def nearest(pixels: np.ndarray, palette: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Index of the nearest palette colour (Euclidean in RGB) for each pixel row."""
    out = np.empty(len(pixels), np.int32)
    p2 = (palette.astype(np.float32) ** 2).sum(axis=1)
    for lo in range(0, len(pixels), chunk):
        x = pixels[lo : lo + chunk].astype(np.float32)
        d = p2[None, :] - 2 * x @ palette.T.astype(np.float32)
        out[lo : lo + chunk] = d.argmin(axis=1)
    return out


def fit_palette(
    pixels: np.ndarray, k: int, iterations: int = 20, sample: int = 200_000, seed: int = 0
) -> np.ndarray:
    """k-means (k-means++ start, Lloyd steps) on a sample of pixels; (k, 3) uint8."""
    rng = np.random.default_rng(seed)
    x = pixels.reshape(-1, 3).astype(np.float32)
    x = x[rng.choice(len(x), min(sample, len(x)), replace=False)]
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        # Fewer distinct colours than k: the rest start anywhere (they end up duplicates).
        weights = d2 / d2.sum() if d2.sum() > 0 else None
        centres.append(x[rng.choice(len(x), p=weights)])
        d2 = np.minimum(d2, ((x - centres[-1]) ** 2).sum(axis=1))
    palette = np.stack(centres)
    for _ in range(iterations):
        labels = nearest(x, palette)
        for j in range(k):
            members = x[labels == j]
            if len(members):
                palette[j] = members.mean(axis=0)
    return np.clip(np.rint(palette), 0, 255).astype(np.uint8)


def quantize(images: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) uint8 -> (n, h, w) palette indices."""
    return nearest(images.reshape(-1, 3), palette).reshape(images.shape[:3])


def quantization_psnr(images: np.ndarray, palette: np.ndarray) -> float:
    restored = palette[quantize(images, palette)].astype(np.float64)
    mse = float(((restored - images.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255.0**2 / mse)


def block_means(images: np.ndarray, grid: int) -> np.ndarray:
    """(n, s, s, 3) -> (n, grid, grid, 3): the mean colour of each of grid x grid blocks."""
    n, size = images.shape[:2]
    if size % grid:
        raise UserError(f"the grid {grid} must divide the painting size {size}")
    block = size // grid
    return images.reshape(n, grid, block, grid, block, 3).astype(np.float64).mean(axis=(2, 4))


def thumbnails(images: np.ndarray, palette: np.ndarray, grid: int) -> np.ndarray:
    """(n, s, s, 3) uint8 -> (n, grid, grid) palette indices: each cell the palette
    colour nearest the mean colour of its block (what a painter's underpainting holds)."""
    means = block_means(images, grid)
    return nearest(means.reshape(-1, 3), palette).reshape(means.shape[:3])
