"""How a painting becomes a token sequence; shared by training and the painter.

Pixels are palette indices 0..K-1 in raster order. The input at step t is the previous
pixel (START = K before the first) and, for context models, one integer per context
kind, named in the model's metadata (`extra.contexts[i].kind`):

- `above`, `above_left`, `above_right`: that neighbour of the pixel being predicted
  (NONE = K where it falls off the canvas);
- `column` and `row`: where the pixel is (0..size-1), so the model can place sky, water
  and land where a landscape puts them.

Files from before context kinds were named have two contexts, `above` and `column`.
"""

from __future__ import annotations

import numpy as np

NEIGHBOURS = {"above": 0, "above_left": -1, "above_right": 1}
POSITIONS = ("column", "row")
KINDS = (*NEIGHBOURS, *POSITIONS)
LEGACY_KINDS = ("above", "column")


def context_kinds(contexts: list[dict]) -> tuple[str, ...]:
    """The kinds of a model's context inputs, in input order."""
    if contexts and not any("kind" in c for c in contexts):
        return LEGACY_KINDS[: len(contexts)]
    return tuple(c["kind"] for c in contexts)


def context_size(kind: str, k: int, size: int) -> int:
    """How many values a context input takes (its embedding's vocabulary)."""
    return k + 1 if kind in NEIGHBOURS else size


def step_inputs(indices: np.ndarray, k: int, kinds: tuple[str, ...]) -> list[np.ndarray]:
    """(n, h, w) indices -> [previous, *contexts], each (n, h*w)."""
    n, height, width = indices.shape
    flat = indices.reshape(n, height * width).astype(np.int32)
    previous = np.concatenate([np.full((n, 1), k, np.int32), flat[:, :-1]], axis=1)
    padded = np.pad(indices.astype(np.int32), ((0, 0), (1, 0), (1, 1)), constant_values=k)
    position = np.arange(height * width, dtype=np.int32)
    streams = [previous]
    for kind in kinds:
        if kind in NEIGHBOURS:
            dx = NEIGHBOURS[kind]
            streams.append(padded[:, :-1, 1 + dx : 1 + dx + width].reshape(n, -1).copy())
        else:
            where = position % width if kind == "column" else position // width
            streams.append(np.broadcast_to(where, flat.shape).copy())
    return streams


def context_at(tokens: list[int], size: int, none: int, kinds: tuple[str, ...]) -> tuple:
    """The contexts of the pixel about to be painted, after `tokens` (raster order)."""
    row, col = divmod(len(tokens), size)
    values = []
    for kind in kinds:
        if kind in NEIGHBOURS:
            x = col + NEIGHBOURS[kind]
            values.append(tokens[(row - 1) * size + x] if row and 0 <= x < size else none)
        else:
            values.append(col if kind == "column" else row)
    return tuple(values)
