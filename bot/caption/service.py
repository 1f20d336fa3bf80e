"""The /caption domain service: captions from the language model, or for an image."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

import numpy as np

from bot.batching import BatcherPool, Generation, results, wait_all
from bot.caption.encoder import encode_pixels
from bot.caption.tokens import END, START, normalize_caption, repeats_itself
from bot.engine import InferenceEngine, LoadedModel
from bot.errors import InvalidInput, quoted
from bot.images import image_pixels, open_image
from bot.lm import StepGraph, beam_search
from bot.model_specs import CAPTION_ENCODER, CHARLM
from bot.sampling import SamplingConfig
from bot.vocabulary import Vocabulary

MAX_CAPTION_CHARS = 120
MAX_PREFIX = 60
COUNT_RANGE = (1, 5)
MAX_SEED = 2**31 - 1
DEFAULT_BEAM = 3


@dataclass
class CaptionRequest:
    starts_with: str = ""
    count: int = 1
    temperature: float = 0.7
    seed: int | None = None
    image: bytes | None = None
    beam_width: int | None = None  # None: beam search for images, sampling otherwise


@dataclass
class CaptionResult:
    captions: list[str]
    seed: int
    method: str  # "sampling" or "beam search (width N)"
    conditioned: bool
    notes: list[str] = field(default_factory=list)


class CaptionService:
    def __init__(
        self, engine: InferenceEngine, pool: BatcherPool, model_name: str = "captions"
    ) -> None:
        self.engine = engine
        self.pool = pool
        self.model_name = model_name

    def decoder(self) -> StepGraph:
        return StepGraph(self.engine.get(self.model_name, CHARLM))

    def encoder(self) -> LoadedModel:
        return self.engine.get(f"{self.model_name}_encoder", CAPTION_ENCODER)

    def image_decoder(self) -> StepGraph:
        """The decoder the encoder was trained with (its metadata names it)."""
        return StepGraph(self.engine.get(self.encoder().metadata.extra["decoder"], CHARLM))

    def validate(self, request: CaptionRequest) -> tuple[str, list[str]]:
        """Checks every option before any work; returns the cleaned prefix and notes."""
        low, high = COUNT_RANGE
        if not low <= request.count <= high:
            raise InvalidInput(f"count must be between {low} and {high}.")
        if not 0 <= request.temperature <= 2:
            raise InvalidInput("temperature must be between 0 and 2.")
        if request.seed is not None and not 0 <= request.seed <= MAX_SEED:
            raise InvalidInput(f"seed must be between 0 and {MAX_SEED}.")
        if request.beam_width is not None and not 0 <= request.beam_width <= 10:
            raise InvalidInput("beam width must be between 0 (sampling) and 10.")
        if len(request.starts_with) > MAX_PREFIX:
            raise InvalidInput(f"starts_with is limited to {MAX_PREFIX} characters.")
        prefix = normalize_caption(request.starts_with)
        notes = []
        if request.starts_with.strip() and not prefix:
            raise InvalidInput(
                "starts_with has no letters or digits the captioner knows; try plain words."
            )
        if prefix != " ".join(request.starts_with.lower().split()):
            notes.append(
                f"The opening was read as {quoted(prefix, MAX_PREFIX)} "
                "(lower case, simple punctuation)."
            )
        if request.image is None:
            self.decoder()  # raises ModelUnavailable early
        else:
            self.image_decoder()
        return prefix, notes

    def initial_state(self, graph: StepGraph, image: bytes | None) -> list[np.ndarray]:
        if image is None:
            return graph.zero_state()
        encoder = self.encoder()
        size = encoder.metadata.extra["image_size"]
        return encode_pixels(encoder, graph, image_pixels(open_image(image), size)[None])

    def _plan(self, request: CaptionRequest) -> tuple[StepGraph, dict]:
        """Everything a caption job needs, checked; runs the image encoder if any."""
        prefix, notes = self.validate(request)
        graph = self.decoder() if request.image is None else self.image_decoder()
        vocab = Vocabulary(graph.model.metadata.vocabulary)
        start = vocab.encode(START + prefix).ids.tolist()
        width = request.beam_width
        if width is None:
            width = max(DEFAULT_BEAM, request.count) if request.image is not None else 0
        if width and request.count > width:
            notes.append(
                f"A beam of width {width} finds at most {width} caption"
                f"{'s' if width > 1 else ''}; use a wider beam or sampling for more."
            )
        return graph, {
            "prefix": prefix,
            "notes": notes,
            "vocab": vocab,
            "start": start,
            "end": int(vocab.encode(END).ids[0]),
            "banned": [start[0]],  # START is input only
            "state": self.initial_state(graph, request.image),
            "seed": secrets.randbelow(MAX_SEED) if request.seed is None else request.seed,
            "width": width,
            "budget": MAX_CAPTION_CHARS - len(prefix),
        }

    @staticmethod
    def _repetition_guard(plan: dict):
        """Checked when a word ends (a space or END), on the words so far."""
        vocab, ends = plan["vocab"], {plan["vocab"].encode(" ").ids[0], plan["end"]}

        def reject(tokens: list[int]) -> bool:
            if tokens[-1] not in ends:
                return False
            return repeats_itself(
                vocab.decode(tokens[:-1] if tokens[-1] == plan["end"] else tokens)
            )

        return reject

    def _beam(self, graph: StepGraph, plan: dict, request: CaptionRequest) -> CaptionResult:
        found = beam_search(
            graph,
            plan["state"],
            plan["start"],
            plan["budget"],
            plan["width"],
            plan["end"],
            request.count,
            plan["banned"],
            reject=self._repetition_guard(plan),
        )
        texts = [plan["vocab"].decode(tokens) for tokens, _ in found]
        return self._result(texts, plan, request, f"beam search (width {plan['width']})")

    def _submit_samples(
        self, graph: StepGraph, plan: dict, request: CaptionRequest, deadline: float | None
    ) -> list[Generation]:
        # Each caption has its own generator, so it does not depend on the others.
        return self.pool.submit_all(
            graph,
            (
                Generation(
                    plan["start"],
                    plan["budget"],
                    SamplingConfig(request.temperature),
                    np.random.default_rng([plan["seed"], i]),
                    end_token=plan["end"],
                    banned=plan["banned"],
                    state=plan["state"],
                    deadline=deadline,
                )
                for i in range(request.count)
            ),
        )

    def _result(
        self, texts: list[str], plan: dict, request: CaptionRequest, method: str
    ) -> CaptionResult:
        captions = [" ".join((plan["prefix"] + t).split()) for t in texts]
        conditioned = request.image is not None
        return CaptionResult(captions, plan["seed"], method, conditioned, plan["notes"])

    def caption(self, request: CaptionRequest) -> CaptionResult:
        """Caption and wait (scripts, console); Ctrl-C cancels sampled captions."""
        graph, plan = self._plan(request)
        if plan["width"]:
            return self._beam(graph, plan, request)
        tokens = results(self._submit_samples(graph, plan, request, None))
        return self._result([plan["vocab"].decode(t) for t in tokens], plan, request, "sampling")

    async def caption_async(
        self, request: CaptionRequest, deadline: float | None = None
    ) -> CaptionResult:
        """Sampled captions wait on the batcher without a thread; the image encoder and beam
        search run in a worker thread (short, bounded work)."""
        graph, plan = await asyncio.to_thread(self._plan, request)
        if plan["width"]:
            return await asyncio.to_thread(self._beam, graph, plan, request)
        tokens = await wait_all(self._submit_samples(graph, plan, request, deadline))
        return self._result([plan["vocab"].decode(t) for t in tokens], plan, request, "sampling")
