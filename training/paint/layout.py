"""Composition, measured: where light and colour sit on the canvas, not its texture.

Each painting is reduced to its layout, the CIELAB lightness of a 4x4 grid of block
means (a sky band is light at the top, water and land darker below). Two sets of
paintings are compared by the Fréchet distance between Gaussians fitted to their
layouts, as FID compares Inception features: a painter whose canvases are textures with
no composition has the right mean but not the real layouts' spread and correlations.
The floor is one set of real paintings against another.
"""

from __future__ import annotations

import numpy as np

from bot.color.lab import srgb_to_lab
from training.paint.data import block_means

GRID = 4


def layouts(pixels: np.ndarray, grid: int = GRID) -> np.ndarray:
    """(n, s, s, 3) uint8 -> (n, grid * grid) lightness of each block's mean colour."""
    means = block_means(pixels, grid)
    return srgb_to_lab(means.reshape(-1, 3) / 255.0)[:, 0].reshape(len(pixels), grid * grid)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of `a` and of `b`."""
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = _sqrt_psd(cov_a)
    cross = _sqrt_psd(root @ cov_b @ root)
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * cross))


def vertical_contrast(layout: np.ndarray, grid: int = GRID) -> np.ndarray:
    """Per painting: the top row of blocks' lightness minus the bottom row's."""
    rows = layout.reshape(len(layout), grid, grid).mean(axis=2)
    return rows[:, 0] - rows[:, -1]
