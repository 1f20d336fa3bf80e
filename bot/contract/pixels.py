"""How a painting becomes a token sequence; shared by training and the painter.

Pixels are palette indices 0..K-1 in raster order. The input at step t is the previous
pixel (START = K before the first) and, for context models, one integer per context
kind, named in the model's metadata (`extra.contexts[i].kind`):

- `above`, `above_left`, `above_right`: that neighbour of the pixel being predicted
  (NONE = K where it falls off the canvas);
- `column` and `row`: where the pixel is (0..size-1), so the model can place sky, water
  and land where a landscape puts them;
- `coarse`, `coarse_right`, `coarse_below`: the thumbnail's colour at the block holding
  the pixel, the block to its right and the block below (NONE off the thumbnail).

A model with coarse kinds names a thumbnail grid G (`extra.thumbnail`): it first paints
a G x G thumbnail (each cell the palette colour nearest a block's mean colour) with the
same step graph, its coarse contexts NONE and its positions those of the blocks'
centres, then the painting, which sees the whole thumbnail through its coarse contexts:
the composition is decided before the brushwork. The stream is G*G + size*size tokens.

Files from before context kinds were named have two contexts, `above` and `column`.
"""

from __future__ import annotations

import numpy as np

NEIGHBOURS = {"above": 0, "above_left": -1, "above_right": 1}
POSITIONS = ("column", "row")
COARSE = {"coarse": (0, 0), "coarse_right": (0, 1), "coarse_below": (1, 0)}
KINDS = (*NEIGHBOURS, *POSITIONS, *COARSE)
LEGACY_KINDS = ("above", "column")


def context_kinds(contexts: list[dict]) -> tuple[str, ...]:
    """The kinds of a model's context inputs, in input order."""
    if contexts and not any("kind" in c for c in contexts):
        return LEGACY_KINDS[: len(contexts)]
    return tuple(c["kind"] for c in contexts)


def context_size(kind: str, k: int, size: int) -> int:
    """How many values a context input takes (its embedding's vocabulary)."""
    return size if kind in POSITIONS else k + 1


def stream_length(size: int, grid: int = 0) -> int:
    """Tokens per painting: a G x G thumbnail's cells first (if any), then every pixel."""
    return grid * grid + size * size


def _phase(
    indices: np.ndarray,
    k: int,
    kinds: tuple[str, ...],
    first: np.ndarray,
    thumbnail: np.ndarray | None,
    scale: int,
) -> list[np.ndarray]:
    """[previous, *contexts] of one grid painted in raster order: the thumbnail (scale =
    canvas pixels per cell, thumbnail None) or the painting (scale 1, its thumbnail)."""
    n, height, width = indices.shape
    flat = indices.reshape(n, height * width).astype(np.int32)
    previous = np.concatenate([first.reshape(n, 1).astype(np.int32), flat[:, :-1]], axis=1)
    padded = np.pad(indices.astype(np.int32), ((0, 0), (1, 0), (1, 1)), constant_values=k)
    position = np.arange(height * width, dtype=np.int32)
    rows, cols = position // width, position % width
    streams = [previous]
    for kind in kinds:
        if kind in NEIGHBOURS:
            dx = NEIGHBOURS[kind]
            streams.append(padded[:, :-1, 1 + dx : 1 + dx + width].reshape(n, -1).copy())
        elif kind in POSITIONS:
            where = cols if kind == "column" else rows
            streams.append(np.broadcast_to(where * scale + scale // 2, flat.shape).copy())
        elif thumbnail is None:
            streams.append(np.full(flat.shape, k, np.int32))
        else:
            grid = thumbnail.shape[1]
            block = width // grid
            dy, dx = COARSE[kind]
            cell = np.pad(thumbnail.astype(np.int32), ((0, 0), (0, 1), (0, 1)), constant_values=k)
            streams.append(cell[:, rows // block + dy, cols // block + dx])
    return streams


def step_inputs(
    indices: np.ndarray, k: int, kinds: tuple[str, ...], thumbnail: np.ndarray | None = None
) -> list[np.ndarray]:
    """(n, h, w) indices -> [previous, *contexts], each (n, h*w); with a (n, G, G)
    thumbnail, each (n, G*G + h*w): the thumbnail's steps, then the painting's."""
    start = np.full(len(indices), k, np.int32)
    if thumbnail is None:
        return _phase(indices, k, kinds, start, None, 1)
    scale = indices.shape[1] // thumbnail.shape[1]
    sketch = _phase(thumbnail, k, kinds, start, None, scale)
    paint = _phase(indices, k, kinds, thumbnail[:, -1, -1], thumbnail, 1)
    return [np.concatenate(pair, axis=1) for pair in zip(sketch, paint, strict=True)]


def step_targets(indices: np.ndarray, thumbnail: np.ndarray | None = None) -> np.ndarray:
    """The tokens each step predicts, in the order `step_inputs` feeds them."""
    flat = indices.reshape(len(indices), -1).astype(np.int32)
    if thumbnail is None:
        return flat
    return np.concatenate([thumbnail.reshape(len(indices), -1).astype(np.int32), flat], axis=1)


def context_at(
    tokens: list[int], size: int, none: int, kinds: tuple[str, ...], grid: int = 0
) -> tuple:
    """The contexts of the token about to be painted, after `tokens` (raster order; with
    a thumbnail grid, the thumbnail's G*G tokens come first)."""
    cells = grid * grid
    sketching = len(tokens) < cells
    offset, width, scale = (0, grid, size // grid) if sketching else (cells, size, 1)
    row, col = divmod(len(tokens) - offset, width)
    values = []
    for kind in kinds:
        if kind in NEIGHBOURS:
            x = col + NEIGHBOURS[kind]
            inside = row and 0 <= x < width
            values.append(tokens[offset + (row - 1) * width + x] if inside else none)
        elif kind in POSITIONS:
            values.append((col if kind == "column" else row) * scale + scale // 2)
        elif sketching or not grid:
            values.append(none)
        else:
            dy, dx = COARSE[kind]
            block = size // grid
            y, x = row // block + dy, col // block + dx
            values.append(tokens[y * grid + x] if y < grid and x < grid else none)
    return tuple(values)
