"""The /name domain service: a colour in, three invented names for it out.

The colour may be `#7a9e3b`, `7a9e3b`, `rgb(122, 158, 59)` or a colour name (resolved as
`/color` resolves it: the lists first, then the colour model). The names model reads the
colour in CIELAB at every step (`color_in` in its state) and samples on the shared
batcher; a candidate that is already a name in the lists, or a repeat, is dropped, so
every answer is a name that does not exist yet (and none says a word twice in a row).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass, field

import numpy as np

from bot.color.lab import srgb_to_lab
from bot.color.service import ColorService
from bot.commands import MAX_SEED, NAME
from bot.contract.signatures import CHARLM
from bot.errors import InvalidInput, quoted
from bot.render import hex_color, parse_hex, swatch_png
from bot.runtime.batching import BatcherPool, Generation, results, wait_all
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph
from bot.runtime.sampling import SamplingConfig
from bot.text.captions import END, START, repeats_itself
from bot.text.vocabulary import Vocabulary, normalize_name

NAMES = 3
CANDIDATES = 12  # sampled at once; the first NAMES new, distinct ones are kept
MAX_NAME = 32
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_RGB = re.compile(r"^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$", re.IGNORECASE)


@dataclass(frozen=True)
class NameRequest:
    """What a user asked for; its options are declared in `bot.commands.NAME`."""

    color: str
    temperature: float = NAME.default("temperature")
    seed: int | None = None


@dataclass
class NameResult:
    names: list[str]
    rgb: tuple[int, int, int]
    seed: int
    resolved_from: str  # "hex", "rgb", "known name" or "colour model"
    notes: list[str] = field(default_factory=list)

    @property
    def hex(self) -> str:
        return hex_color(self.rgb)


def parse_color(text: str, colors: ColorService) -> tuple[tuple[int, int, int], str]:
    """The colour a user typed, and how it was read."""
    text = text.strip()
    if not text:
        raise InvalidInput("Give a colour: `#7a9e3b`, `rgb(122, 158, 59)` or a colour name.")
    if match := _HEX.match(text):
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return parse_hex(digits), "hex"
    if match := _RGB.match(text):
        values = tuple(int(v) for v in match.groups())
        if max(values) > 255:
            raise InvalidInput("rgb() values go from 0 to 255.")
        return values, "rgb"
    if text.startswith("#") or text.lower().startswith("rgb"):
        raise InvalidInput(
            f"{quoted(text, 40)} is not a colour code: use `#7a9e3b`, `#7a3` or "
            "`rgb(122, 158, 59)`."
        )
    result = colors.color(text)
    return result.rgb, "known name" if result.source == "known" else "colour model"


def color_input(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB colours (n, 3) -> CIELAB / 100, what the names model reads (training too)."""
    return (srgb_to_lab(np.asarray(rgb, np.float64) / 255) / 100).astype(np.float32)


def color_state(graph: StepGraph, lab: np.ndarray) -> list[np.ndarray]:
    """The names model's starting state for (n, 3) colours: zeros, and `color_in` = lab."""
    names = [entry["input"] for entry in graph.layout]
    state = graph.zero_state(len(lab))
    state[names.index("color_in")] = lab
    return state


def title(name: str) -> str:
    """'mossy lagoon' -> 'Mossy Lagoon' (the lists are stored folded)."""
    return " ".join(w[:1].upper() + w[1:] for w in name.split())


class NameService:
    def __init__(
        self,
        engine: InferenceEngine,
        pool: BatcherPool,
        colors: ColorService,
        model_name: str = "names",
    ) -> None:
        self.engine = engine
        self.pool = pool
        self.colors = colors
        self.model_name = model_name
        self._known: tuple[object, frozenset[str]] | None = None

    def graph(self) -> StepGraph:
        return StepGraph(self.engine.get(self.model_name, CHARLM))

    def known_names(self, graph: StepGraph) -> frozenset[str]:
        """The names of the lists the model was trained on (in its metadata)."""
        if self._known is None or self._known[0] is not graph.model:
            names = graph.model.metadata.extra.get("known_names", "")
            self._known = (graph.model, frozenset(names.split("\n")) if names else frozenset())
        return self._known[1]

    def _plan(self, request: NameRequest) -> tuple[StepGraph, dict]:
        """The one check of a request (the cog hands it on unchecked: Discord has checked
        its ranges), then everything its names need."""
        NAME.check(request)
        graph = self.graph()
        rgb, resolved = parse_color(request.color, self.colors)
        vocab = Vocabulary(graph.model.metadata.vocabulary)
        return graph, {
            "vocab": vocab,
            "rgb": rgb,
            "resolved": resolved,
            "state": color_state(graph, color_input(np.asarray([rgb]))),
            "start": vocab.encode(START).ids.tolist(),
            "end": int(vocab.encode(END).ids[0]),
            "seed": secrets.randbelow(MAX_SEED) if request.seed is None else request.seed,
        }

    def _submit(self, graph: StepGraph, plan: dict, request: NameRequest, deadline):
        return self.pool.submit_all(
            graph,
            (
                Generation(
                    plan["start"],
                    MAX_NAME,
                    SamplingConfig(request.temperature),
                    np.random.default_rng([plan["seed"], i]),
                    end_token=plan["end"],
                    banned=plan["start"],
                    state=plan["state"],
                    deadline=deadline,
                )
                for i in range(CANDIDATES)
            ),
        )

    def _result(self, graph: StepGraph, plan: dict, tokens: list[list[int]]) -> NameResult:
        known = self.known_names(graph)
        names: list[str] = []
        for ids in tokens:
            name = " ".join(plan["vocab"].decode(ids).split())
            new = name and name not in known and normalize_name(name) not in known
            if new and not repeats_itself(name) and title(name) not in names:
                names.append(title(name))
            if len(names) == NAMES:
                break
        notes = []
        if len(names) < NAMES:
            notes.append(
                f"Only {len(names)} of {CANDIDATES} tries were new names; "
                "try another seed or a higher temperature."
            )
        return NameResult(names, plan["rgb"], plan["seed"], plan["resolved"], notes)

    def name(self, request: NameRequest) -> NameResult:
        """Name and wait (scripts, console); Ctrl-C cancels."""
        graph, plan = self._plan(request)
        return self._result(graph, plan, results(self._submit(graph, plan, request, None)))

    @staticmethod
    def render(result: NameResult) -> bytes:
        """The swatch, titled with the names (one place for the cog and the console)."""
        return swatch_png(result.rgb, " / ".join(result.names) or result.hex)

    async def name_async(self, request: NameRequest, deadline: float | None = None) -> NameResult:
        """Waits on the batcher without a thread (the colour lookup is short)."""
        graph, plan = await asyncio.to_thread(self._plan, request)
        tokens = await wait_all(self._submit(graph, plan, request, deadline))
        return self._result(graph, plan, tokens)
