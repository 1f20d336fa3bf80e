"""Colour bins for the distribution model: where they sit and what each name's target is.

The bins are k-means centres of the training colours in CIELAB, each moved to the nearest
training colour (so every bin is a real sRGB colour and travels in the metadata as hex).
A name's target spreads over the bins near its colour (a Gaussian of CIELAB distance), so
neighbouring bins share credit and the softmax learns a smooth density, not a lottery.
"""

from __future__ import annotations

import numpy as np

from bot.color.lab import srgb_to_lab
from bot.render import hex_color

SIGMA = 6.0  # CIELAB units


def fit_bins(rgb: np.ndarray, count: int, iterations: int = 25, seed: int = 0) -> list[str]:
    """`count` bins (hex) for uint8 training colours (n, 3)."""
    lab = srgb_to_lab(rgb / 255.0)
    rng = np.random.default_rng(seed)
    centres = lab[rng.choice(len(lab), count, replace=False)]
    for _ in range(iterations):
        nearest = _nearest(lab, centres)
        for k in range(count):
            members = lab[nearest == k]
            centres[k] = members.mean(axis=0) if len(members) else lab[rng.integers(len(lab))]
    snapped = _nearest(centres, lab)
    unique = list(dict.fromkeys(hex_color(tuple(int(v) for v in rgb[i])) for i in snapped))
    return unique


def _nearest(points: np.ndarray, centres: np.ndarray, chunk: int = 8192) -> np.ndarray:
    out = np.empty(len(points), np.int64)
    for lo in range(0, len(points), chunk):
        d = ((points[lo : lo + chunk, None] - centres[None]) ** 2).sum(-1)
        out[lo : lo + chunk] = d.argmin(axis=1)
    return out


def soft_targets(rgb: np.ndarray, bins_rgb: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """(n, bins) target distributions for uint8 colours (n, 3); `bins_rgb` in [0, 1]."""
    lab, centres = srgb_to_lab(rgb / 255.0), srgb_to_lab(bins_rgb)
    d2 = ((lab[:, None] - centres[None]) ** 2).sum(-1)
    logits = -d2 / (2 * sigma**2)
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
