"""The /caption domain service: captions from the language model, or for an image."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field, replace

import numpy as np

from bot.caption.encoder import encode_pixels
from bot.commands import CAPTION, MAX_SEED
from bot.contract.signatures import CAPTION_ENCODER, CHARLM
from bot.errors import InvalidInput, quoted
from bot.images import image_pixels, open_image
from bot.runtime.batching import BatcherPool, Generation, results, wait_all
from bot.runtime.engine import InferenceEngine, LoadedModel
from bot.runtime.lm import StepGraph, beam_search
from bot.runtime.sampling import SamplingConfig
from bot.text.captions import END, START, normalize_caption, repeats_itself
from bot.text.vocabulary import Vocabulary

MAX_CAPTION_CHARS = 120
DEFAULT_BEAM = 3


@dataclass(frozen=True)
class CaptionRequest:
    """What a user asked for; its options are declared in `bot.commands.CAPTION`."""

    starts_with: str = CAPTION.default("starts_with")
    count: int = CAPTION.default("count")
    temperature: float = CAPTION.default("temperature")
    seed: int | None = None
    image: bytes | None = None
    beam_width: int | None = None  # None: beam search for images, sampling otherwise


@dataclass(frozen=True)
class CheckedCaption:
    """A request that passed every check (`CaptionService.validate`), with its opening
    as the captioner reads it."""

    request: CaptionRequest
    prefix: str
    notes: tuple[str, ...]

    def with_image(self, image: bytes) -> CheckedCaption:
        """The same request for a picture downloaded after the check."""
        return replace(self, request=replace(self.request, image=image))


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

    def validate(self, request: CaptionRequest) -> CheckedCaption:
        """Checks every option before any work, so errors reach the user at once."""
        CAPTION.check(request)
        prefix = normalize_caption(request.starts_with)
        notes = []
        if request.starts_with.strip() and not prefix:
            raise InvalidInput(
                "starts_with has no letters or digits the captioner knows; try plain words."
            )
        if prefix != " ".join(request.starts_with.lower().split()):
            notes.append(
                f"The opening was read as {quoted(prefix, CAPTION['starts_with'].high)} "
                "(lower case, simple punctuation)."
            )
        if request.image is None:
            self.decoder()  # raises ModelUnavailable early
        else:
            self.image_decoder()
        return CheckedCaption(request, prefix, tuple(notes))

    def initial_state(self, graph: StepGraph, image: bytes | None) -> list[np.ndarray]:
        if image is None:
            return graph.zero_state()
        encoder = self.encoder()
        size = encoder.metadata.extra["image_size"]
        return encode_pixels(encoder, graph, image_pixels(open_image(image), size)[None])

    def _plan(self, request: CaptionRequest | CheckedCaption) -> tuple[StepGraph, dict]:
        """Everything a caption job needs; runs the image encoder if any. A plain request
        is checked here (scripts), a checked one was checked already."""
        checked = request if isinstance(request, CheckedCaption) else self.validate(request)
        request, prefix, notes = checked.request, checked.prefix, list(checked.notes)
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
            "request": request,
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

    def caption(self, request: CaptionRequest | CheckedCaption) -> CaptionResult:
        """Caption and wait (scripts, console); Ctrl-C cancels sampled captions."""
        graph, plan = self._plan(request)
        request = plan["request"]
        if plan["width"]:
            return self._beam(graph, plan, request)
        tokens = results(self._submit_samples(graph, plan, request, None))
        return self._result([plan["vocab"].decode(t) for t in tokens], plan, request, "sampling")

    async def caption_async(
        self, request: CaptionRequest | CheckedCaption, deadline: float | None = None
    ) -> CaptionResult:
        """Sampled captions wait on the batcher without a thread; the image encoder and beam
        search run in a worker thread (short, bounded work)."""
        graph, plan = await asyncio.to_thread(self._plan, request)
        request = plan["request"]
        if plan["width"]:
            return await asyncio.to_thread(self._beam, graph, plan, request)
        tokens = await wait_all(self._submit_samples(graph, plan, request, deadline))
        return self._result([plan["vocab"].decode(t) for t in tokens], plan, request, "sampling")
