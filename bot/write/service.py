"""The /write domain service: check a request, prime with the prompt, sample text."""

from __future__ import annotations

import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bot.commands import MAX_SEED, WRITE
from bot.contract.signatures import CHARLM
from bot.contract.trained import SHIPPED, StyleScope
from bot.errors import InvalidInput, ModelGone, quoted
from bot.runtime.batching import BatcherPool, Generation, Job, watch
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph
from bot.runtime.sampling import SamplingConfig
from bot.text.vocabulary import Vocabulary

PROGRESS_EVERY = 16  # characters between progress callbacks (called on the batcher)
PROGRESS_SECONDS = 0.25  # between progress reports on the event loop

# Characters users type that the corpora spell differently.
_PROMPT_ALIASES = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2014": "--",
        "\u2013": "-",
        "\t": " ",
        "\r": "",
    }
)


@dataclass(frozen=True)
class WriteRequest:
    """What a user asked for, as typed; its options are declared in `bot.commands.WRITE`."""

    style: str
    prompt: str = WRITE.default("prompt")
    length: int = WRITE.default("length")
    temperature: float = WRITE.default("temperature")
    seed: int | None = None
    top_k: int = WRITE.default("top_k")
    top_p: float = WRITE.default("top_p")


@dataclass
class WriteResult:
    text: str  # the (cleaned) prompt followed by the generated characters
    style: str
    seed: int
    prompt: str
    generated_chars: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def chars_per_second(self) -> float:
        return self.generated_chars / self.seconds if self.seconds > 0 else 0.0


class StyleModel:
    def __init__(self, graph: StepGraph) -> None:
        meta = graph.model.metadata
        self.graph = graph
        self.vocabulary = Vocabulary(meta.vocabulary)
        self.start_ids = self.vocabulary.encode(meta.extra.get("start_token", "\n")).ids.tolist()

    def clean_prompt(self, prompt: str) -> tuple[str, list[str]]:
        """Map typographic variants, then drop what the style never saw (with a note)."""
        mapped = unicodedata.normalize("NFC", prompt.translate(_PROMPT_ALIASES))
        encoded = self.vocabulary.encode(mapped)
        notes = []
        if encoded.dropped:
            shown = " ".join(repr(c) for c in encoded.dropped[:10])
            notes.append(f"Left out characters this style never saw: {shown}")
        return self.vocabulary.decode(encoded.ids), notes


@dataclass(frozen=True)
class WritePlan:
    """A request that passed every check (`WriteService.validate`), with what generating
    it needs: the front end checks once, before it answers, and hands this on."""

    request: WriteRequest
    model: StyleModel
    prompt: str  # the prompt as the style reads it
    notes: tuple[str, ...]
    sampling: SamplingConfig


class WriteService:
    def __init__(self, engine: InferenceEngine, pool: BatcherPool) -> None:
        self.engine = engine
        self.pool = pool
        self._cache: dict[str, tuple[object, StyleModel]] = {}

    def styles(self, scope: StyleScope = SHIPPED) -> dict[str, str]:
        """Style name -> model name, for the loaded writing models `scope` sees. Where two
        share a style name, the shipped one wins, then the server's own."""
        models = [
            (scope.rank(name), name, m.metadata.extra.get("style", name))
            for name, m in self.engine.by_kind(CHARLM).items()
            if m.metadata.extra.get("task") == "write" and scope.sees(name)
        ]
        styles: dict[str, str] = {}
        for _, name, style in sorted(models):
            styles.setdefault(style, name)
        return dict(sorted(styles.items()))

    def style_model(self, style: str, scope: StyleScope = SHIPPED) -> StyleModel:
        styles = self.styles(scope)
        if style not in styles:
            known = ", ".join(styles) or "none are loaded"
            raise ModelGone(f"No writing style {quoted(style)} is available ({known}).")
        loaded = self.engine.get(styles[style], CHARLM)
        cached = self._cache.get(loaded.name)
        if cached is None or cached[0] is not loaded:
            cached = (loaded, StyleModel(StepGraph(loaded)))
            self._cache[loaded.name] = cached
        return cached[1]

    def validate(self, request: WriteRequest, scope: StyleScope = SHIPPED) -> WritePlan:
        """Check every option before any work, so errors reach the user at once."""
        WRITE.check(request)
        try:
            sampling = SamplingConfig(request.temperature, request.top_k, request.top_p)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        model = self.style_model(request.style, scope)
        prompt, notes = model.clean_prompt(request.prompt)
        if request.prompt.strip() and not prompt.strip():
            raise InvalidInput(
                f"None of the prompt's characters are known to the {request.style} style; "
                "try plain letters, or leave the prompt empty."
            )
        return WritePlan(request, model, prompt, tuple(notes), sampling)

    def submit(
        self,
        request: WriteRequest | WritePlan,
        on_progress: Callable[[str], None] | None = None,
        deadline: float | None = None,
        scope: StyleScope = SHIPPED,
    ) -> Job[WriteResult]:
        """Start generating on the style's batcher; a plain request is checked here (scripts),
        a plan was checked already. `on_progress(text_so_far)` runs on the batcher thread."""
        plan = request if isinstance(request, WritePlan) else self.validate(request, scope)
        request, model, prompt = plan.request, plan.model, plan.prompt
        seed = secrets.randbelow(MAX_SEED) if request.seed is None else request.seed
        prompt_ids = model.vocabulary.encode(prompt).ids.tolist()

        decoded = [prompt]  # text so far, decoded a piece at a time (not all of it each time)

        def on_token(tokens: list[int]) -> None:
            if on_progress and len(tokens) % PROGRESS_EVERY == 0:
                decoded.append(model.vocabulary.decode(tokens[-PROGRESS_EVERY:]))
                on_progress("".join(decoded))

        started = time.perf_counter()
        generation = self.pool.submit(
            model.graph,
            Generation(
                prompt_ids or model.start_ids,
                request.length,
                plan.sampling,
                np.random.default_rng(seed),
                on_token=on_token if on_progress else None,
                deadline=deadline,
            ),
        )

        def finish(generated: list[int]) -> WriteResult:
            seconds = time.perf_counter() - started
            text = prompt + model.vocabulary.decode(generated)
            notes = list(plan.notes)
            return WriteResult(text, request.style, seed, prompt, len(generated), seconds, notes)

        return Job(generation, finish)

    def write(
        self, request: WriteRequest | WritePlan, on_progress: Callable[[str], None] | None = None
    ) -> WriteResult:
        """Generate and wait (scripts, console); Ctrl-C cancels the generation."""
        return self.submit(request, on_progress).result()

    async def write_async(
        self,
        request: WriteRequest | WritePlan,
        on_progress: Callable[[str], None] | None = None,
        deadline: float | None = None,
        scope: StyleScope = SHIPPED,
    ) -> WriteResult:
        """Generate without holding a thread; `on_progress(text_so_far)` is called on the
        event loop every PROGRESS_SECONDS while there is new text, decoded only then."""
        plan = request if isinstance(request, WritePlan) else self.validate(request, scope)
        job = self.submit(plan, None, deadline, scope)
        if on_progress is None:
            return await job.wait()
        decode = plan.model.vocabulary.decode
        tokens = await watch(
            job.generation, lambda t: on_progress(plan.prompt + decode(t)), PROGRESS_SECONDS
        )
        return job.finish(tokens)
