"""The /paint domain service: fill a canvas pixel by pixel, then upscale it like paint."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from bot.commands import MAX_SEED, PAINT
from bot.contract.pixels import context_kinds, stream_length
from bot.contract.signatures import CHARLM
from bot.contract.trained import owner
from bot.errors import InvalidInput, ModelGone
from bot.runtime.batching import BatcherPool, Job, watch
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph
from bot.runtime.pixels import PixelGeneration, VariationRng
from bot.runtime.sampling import SamplingConfig

DISPLAY_SIZE = 512
CANVAS = (236, 229, 214)  # unpainted linen, shown while the picture fills in
Z_RLE = 3  # zlib's strategy number
PREVIEW_SIZE = 256  # pixels of a progress edit's canvas
PROGRESS_SECONDS = 0.25  # between progress reports on the event loop


@dataclass(frozen=True)
class PaintRequest:
    """What a user asked for; its options are declared in `bot.commands.PAINT`."""

    seed: int | None = None
    temperature: float = PAINT.default("temperature")
    size: int | None = None  # None: the default painter's size
    variation: int | None = None  # a second seed for the lower half: a variation of `seed`


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
        return render_png(self.indices, self.palette, display)


def render_png(indices: np.ndarray, palette: np.ndarray, display: int = DISPLAY_SIZE) -> bytes:
    """Upscale so it reads as brushwork, not pixels: enlarge 3x, let a mode filter merge
    neighbouring pixels into dabs of one colour, enlarge to `display`, soften the edges.
    Index K (one past the palette) is canvas not painted yet, shown as linen."""
    rgb = np.vstack([palette, CANVAS]).astype(np.uint8)[indices]
    size = indices.shape[0]
    image = Image.fromarray(rgb, "RGB").resize((size * 3, size * 3), Image.Resampling.BICUBIC)
    image = image.filter(ImageFilter.ModeFilter(5))
    image = image.resize((display, display), Image.Resampling.BICUBIC)
    image = image.filter(ImageFilter.SMOOTH_MORE)
    return _png(image)


def preview_png(indices: np.ndarray, palette: np.ndarray, display: int = PREVIEW_SIZE) -> bytes:
    """The canvas while it fills in: each pixel a flat square, no brushwork filters, so a
    progress edit costs a few milliseconds rather than the finished picture's hundreds."""
    rgb = np.vstack([palette, CANVAS]).astype(np.uint8)[indices]
    scale = max(1, display // indices.shape[0])
    return _png(Image.fromarray(rgb.repeat(scale, axis=0).repeat(scale, axis=1), "RGB"))


def _png(image: Image.Image) -> bytes:
    """Fast zlib level with run-length matching (Z_RLE): the same pixels, encoded in about
    a third of the default level's time, in a file about a fifth smaller than the plain
    fast level's (a painting's dabs are runs of one colour)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1, compress_type=Z_RLE)
    return buffer.getvalue()


class Painter:
    """Fills the canvas in raster order on the model's batcher (paintings share steps)."""

    def __init__(self, graph: StepGraph) -> None:
        extra = graph.model.metadata.extra
        self.graph = graph
        self.size = int(extra["size"])
        self.start = int(extra["start_token"])
        self.palette = np.asarray(extra["palette"], np.uint8)
        self.kinds = context_kinds(extra.get("contexts", []))
        self.grid = int(extra.get("thumbnail", 0))

    @property
    def steps(self) -> int:
        """Tokens per painting: the thumbnail's, then every pixel's."""
        return stream_length(self.size, self.grid)

    def generation(
        self,
        temperature: float,
        rng: np.random.Generator,
        on_rows: Callable[[np.ndarray, int], None] | None = None,
        deadline: float | None = None,
    ) -> PixelGeneration:
        return PixelGeneration(
            prompt=[self.start],
            max_new=self.steps,
            sampling=SamplingConfig(temperature),
            rng=rng,
            banned=[self.start],
            size=self.size,
            kinds=self.kinds,
            grid=self.grid,
            on_rows=on_rows,
            deadline=deadline,
        )


@dataclass(frozen=True)
class PaintPlan:
    """A request that passed every check (`PaintService.validate`), with its painter."""

    request: PaintRequest
    painter: Painter


class PaintService:
    def __init__(self, engine: InferenceEngine, pool: BatcherPool) -> None:
        self.engine = engine
        self.pool = pool

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
            failures = [
                f"{n}: {why}" for n, why in self.engine.failures.items() if owner(n) is None
            ]  # the shipped files only: a server's styles are its own business
            detail = f" ({'; '.join(failures)})" if failures else ""
            raise ModelGone(f"The painter is unavailable right now{detail}.")
        if size is None:
            size = min(painters)
        if size not in painters:
            choices = ", ".join(str(s) for s in sorted(painters))
            raise InvalidInput(f"size must be one of: {choices}.")
        return Painter(StepGraph(self.engine.get(painters[size], CHARLM)))

    def validate(self, request: PaintRequest) -> PaintPlan:
        """Check every option before any work, so errors reach the user at once."""
        PAINT.check(request)
        PAINT["seed"].check(request.variation)
        return PaintPlan(request, self.painter(request.size))

    def submit(
        self,
        request: PaintRequest | PaintPlan,
        on_rows: Callable[[np.ndarray, int], None] | None = None,
        deadline: float | None = None,
    ) -> Job[PaintResult]:
        """Start painting; a plain request is checked here (scripts), a plan was checked
        already. `on_rows(partial_indices, rows_done)` runs on the batcher thread."""
        plan = request if isinstance(request, PaintPlan) else self.validate(request)
        request, painter = plan.request, plan.painter
        seed = secrets.randbelow(MAX_SEED) if request.seed is None else request.seed
        rng = np.random.default_rng(seed)
        if request.variation is not None:
            top_half = painter.steps - painter.size * painter.size // 2
            rng = VariationRng(seed, request.variation, top_half)
        started = time.perf_counter()
        generation = painter.generation(request.temperature, rng, on_rows, deadline)
        self.pool.submit(painter.graph, generation)

        def finish(_: list[int]) -> PaintResult:
            seconds = time.perf_counter() - started
            return PaintResult(generation.canvas(), painter.palette, seed, seconds)

        return Job(generation, finish)

    def paint(
        self,
        request: PaintRequest | PaintPlan,
        on_rows: Callable[[np.ndarray, int], None] | None = None,
    ) -> PaintResult:
        """Paint and wait (scripts, console); Ctrl-C cancels the painting."""
        return self.submit(request, on_rows).result()

    async def paint_async(
        self,
        request: PaintRequest | PaintPlan,
        on_rows: Callable[[np.ndarray, int], None] | None = None,
        deadline: float | None = None,
    ) -> PaintResult:
        """Paint without holding a thread; `on_rows(partial_indices, rows_done)` is called on
        the event loop every PROGRESS_SECONDS while the canvas grows (once the thumbnail
        is there), the canvas read only then."""
        job = self.submit(request, None, deadline)
        if on_rows is None:
            return await job.wait()
        generation = job.generation
        cells, size = generation.grid * generation.grid, generation.size

        def report(tokens: list[int]) -> None:
            if len(tokens) >= cells:
                on_rows(generation.canvas(), (len(tokens) - cells) // size)

        return job.finish(await watch(generation, report, PROGRESS_SECONDS))
