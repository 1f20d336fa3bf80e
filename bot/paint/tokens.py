"""How a painting becomes a token sequence; shared by training and the painter.

Pixels are palette indices 0..K-1 in raster order. The input at step t is the previous
pixel (START = K before the first), and, for the context model, the pixel directly above
(NONE = K on the first row) and the column t mod width.
"""

from __future__ import annotations

import numpy as np


def step_inputs(indices: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, h, w) indices -> previous, above and column, each (n, h*w)."""
    n, height, width = indices.shape
    flat = indices.reshape(n, height * width).astype(np.int32)
    previous = np.concatenate([np.full((n, 1), k, np.int32), flat[:, :-1]], axis=1)
    above = np.concatenate([np.full((n, width), k, np.int32), flat[:, :-width]], axis=1)
    column = np.broadcast_to(np.arange(height * width, dtype=np.int32) % width, flat.shape)
    return previous, above, column.copy()
