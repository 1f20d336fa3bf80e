"""The /paint domain service: fill a canvas pixel by pixel, then upscale it like paint."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from bot.engine import InferenceEngine
from bot.errors import InvalidInput, ModelUnavailable
from bot.lm import StepGraph
from bot.model_specs import CHARLM
from bot.sampling import SamplingConfig, sample

MAX_SEED = 2**31 - 1
TEMPERATURE_RANGE = (0.1, 2.0)
DISPLAY_SIZE = 512
CANVAS = (236, 229, 214)  # unpainted linen, shown while the picture fills in
PROGRESS_ROWS = 4


@dataclass
class PaintRequest:
    seed: int | None = None
    temperature: float = 1.0
    size: int | None = None  # None: the default painter's size


@dataclass
class PaintResult:
    indices: np.ndarray  # (size, size) palette indices
    palette: np.ndarray  # (K, 3) uint8
    seed: int
    seconds: float

    @property
    def size(self) -> int:
        return int(self.indices.shape[0])

    def png(self, display: int = DISPLAY_SIZE) -> bytes:
        return render_png(self.indices, self.palette, self.size, display)


def render_png(
    indices: np.ndarray, palette: np.ndarray, rows_done: int, display: int = DISPLAY_SIZE
) -> bytes:
    """Upscale so it reads as brushwork, not pixels: enlarge 3x, let a mode filter merge
    neighbouring pixels into dabs of one colour, enlarge to `display`, soften the edges."""
    rgb = palette[indices].astype(np.uint8)
    rgb[rows_done:] = CANVAS
    size = indices.shape[0]
    image = Image.fromarray(rgb, "RGB").resize((size * 3, size * 3), Image.Resampling.BICUBIC)
    image = image.filter(ImageFilter.ModeFilter(5))
    image = image.resize((display, display), Image.Resampling.BICUBIC)
    image = image.filter(ImageFilter.SMOOTH_MORE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class Painter:
    def __init__(self, graph: StepGraph) -> None:
        extra = graph.model.metadata.extra
        self.graph = graph
        self.size = int(extra["size"])
        self.start = int(extra["start_token"])
        self.palette = np.asarray(extra["palette"], np.uint8)
        self.uses_context = bool(graph.contexts)

    def paint(
        self,
        temperature: float,
        rng: np.random.Generator,
        on_rows: Callable[[np.ndarray, int], None] | None = None,
    ) -> np.ndarray:
        """Raster order; each step sees the previous pixel, the one above and the column."""
        size, k = self.size, self.start
        canvas = np.zeros((size, size), np.int32)
        state = self.graph.zero_state(1)
        config = SamplingConfig(temperature)
        previous = k
        banned = [k]  # the start token is input only
        for row in range(size):
            for col in range(size):
                contexts = ()
                if self.uses_context:
                    above = canvas[row - 1, col] if row else k
                    contexts = (np.array([above]), np.array([col]))
                logits, state = self.graph(np.array([previous]), state, contexts)
                logits = logits[0]
                logits[banned] = -np.inf
                previous = sample(logits, config, rng)
                canvas[row, col] = previous
            if on_rows and ((row + 1) % PROGRESS_ROWS == 0 or row + 1 == size):
                on_rows(canvas.copy(), row + 1)
        return canvas


class PaintService:
    def __init__(self, engine: InferenceEngine) -> None:
        self.engine = engine

    def painters(self) -> dict[int, str]:
        """Canvas size -> model name, for every loaded painting model."""
        return {
            int(m.metadata.extra["size"]): name
            for name, m in sorted(self.engine.by_kind(CHARLM).items())
            if m.metadata.extra.get("task") == "paint"
        }

    def painter(self, size: int | None) -> Painter:
        painters = self.painters()
        if not painters:
            failures = [f"{n}: {why}" for n, why in self.engine.failures.items()]
            detail = f" ({'; '.join(failures)})" if failures else ""
            raise ModelUnavailable(f"The painter is unavailable right now{detail}.")
        if size is None:
            size = min(painters)
        if size not in painters:
            choices = ", ".join(str(s) for s in sorted(painters))
            raise InvalidInput(f"size must be one of: {choices}.")
        return Painter(StepGraph(self.engine.get(painters[size], CHARLM)))

    def validate(self, request: PaintRequest) -> Painter:
        low, high = TEMPERATURE_RANGE
        if not low <= request.temperature <= high:
            raise InvalidInput(f"temperature must be between {low:g} and {high:g}.")
        if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
            raise InvalidInput(f"seed must be between 0 and {MAX_SEED}.")
        return self.painter(request.size)

    def paint(
        self, request: PaintRequest, on_rows: Callable[[np.ndarray, int], None] | None = None
    ) -> PaintResult:
        """`on_rows(partial_indices, rows_done)` is called every few rows (any thread)."""
        painter = self.validate(request)
        seed = secrets.randbelow(MAX_SEED) if request.seed is None else request.seed
        started = time.perf_counter()
        canvas = painter.paint(request.temperature, np.random.default_rng(seed), on_rows)
        return PaintResult(canvas, painter.palette, seed, time.perf_counter() - started)
