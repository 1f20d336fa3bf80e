"""A painting as a generation the batchers run: its per-step context inputs (the ones its
model names, `bot.contract.pixels`) and the random stream of its variations."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.contract.pixels import POSITIONS, context_at, stream_length
from bot.runtime.batching import Generation

PROGRESS_ROWS = 4  # the canvas is reported every this many painted rows
_NONE = -1  # stands for "off the canvas" while the table is built


class VariationRng:
    """Draws from the painting's own seed for the top half of the canvas, then from the
    variation's: the same sky, a different rest (the batcher draws once per pixel)."""

    def __init__(self, seed: int, variation: int, switch_after: int) -> None:
        self.first = np.random.default_rng(seed)
        self.second = np.random.default_rng(variation)
        self.left = switch_after

    def random(self) -> float:
        self.left -= 1
        return (self.first if self.left >= 0 else self.second).random()


@functools.lru_cache(maxsize=16)
def context_table(size: int, kinds: tuple[str, ...], grid: int) -> np.ndarray:
    """Where each step's contexts come from: (steps, kinds) indices into a painting's
    source array (its tokens, then "none", then every position). Built once per painter
    from `context_at` itself, so a step's contexts are one array gather, not Python
    arithmetic per kind."""
    steps = stream_length(size, grid)
    table = np.empty((steps, len(kinds)), np.int32)
    for step in range(steps):
        # A range stands in for the tokens: token i reads as its own index i.
        values = context_at(range(step), size, _NONE, kinds, grid)
        for column, (kind, value) in enumerate(zip(kinds, values, strict=True)):
            if kind in POSITIONS:
                table[step, column] = steps + 1 + value
            else:
                table[step, column] = steps if value == _NONE else value
    table.setflags(write=False)
    return table


@dataclass(kw_only=True)
class PixelGeneration(Generation):
    """A painting as a generation: its contexts are the ones its model names (`tokens.py`)."""

    size: int
    kinds: tuple[str, ...]
    grid: int = 0  # the thumbnail's G (0: none): its G*G tokens come first
    on_rows: Callable[[np.ndarray, int], None] | None = None

    def __post_init__(self) -> None:
        steps = stream_length(self.size, self.grid)
        self._table: np.ndarray | None = None  # built on the first step, once checked
        # The tokens painted so far, then the value meaning "none", then every position.
        self._source = np.empty(steps + 1 + self.size, np.int32)
        self._source[steps] = self.prompt[0]
        self._source[steps + 1 :] = np.arange(self.size)

    def next_contexts(self) -> np.ndarray:
        if self._table is None:
            self._table = context_table(self.size, tuple(self.kinds), self.grid)
        return self._source[self._table[len(self.tokens)]]

    def canvas(self) -> np.ndarray:
        """The painting so far: what is not painted yet shows the thumbnail's colours
        (the underpainting) once it is there, else K (bare canvas: `render_png`)."""
        cells = self.grid * self.grid
        done = len(self.tokens)
        if self.grid and done >= cells:
            block = self.size // self.grid
            sketch = self._source[:cells].reshape(self.grid, self.grid)
            canvas = sketch.repeat(block, axis=0).repeat(block, axis=1)
        else:
            canvas = np.full((self.size, self.size), self.prompt[0], np.int32)
        flat = canvas.reshape(-1)
        flat[: max(0, done - cells)] = self._source[cells:done]
        return canvas

    def accept(self, token: int) -> bool:
        """Reports the canvas every few rows, and once the thumbnail is there."""
        self._source[len(self.tokens)] = token
        finished = super().accept(token)
        done = len(self.tokens) - self.grid * self.grid
        if self.on_rows and done >= 0 and (done % (self.size * PROGRESS_ROWS) == 0 or finished):
            self.on_rows(self.canvas(), done // self.size)
        return finished
