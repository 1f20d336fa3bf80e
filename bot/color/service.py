"""The /color domain service: validate a name, look it up or predict it, render the swatch.

Front ends (Discord cog, console, CLI) all call this, so input rules live in one place.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from bot.color.bins import ColorBins
from bot.commands import COLOR as COLOR_COMMAND
from bot.contract.signatures import COLOR
from bot.errors import InvalidInput
from bot.render import hex_color, parse_hex, swatch_png
from bot.runtime.engine import InferenceEngine, LoadedModel
from bot.text.vocabulary import Vocabulary, normalize_name


@dataclass
class ColorResult:
    name: str  # the name as the model read it (normalised, only known characters)
    rgb: tuple[int, int, int]
    source: str  # "known": from the training lists; "model": predicted
    notes: list[str] = field(default_factory=list)
    # Other colours the model also sees for this name (a bins model only), most likely first.
    alternatives: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def hex(self) -> str:
        return hex_color(self.rgb)

    @property
    def alternative_hexes(self) -> list[str]:
        return [hex_color(rgb) for rgb in self.alternatives]


def encode_names(
    vocabulary: Vocabulary, names: list[str], max_length: int, left_pad: bool
) -> np.ndarray:
    """Ids padded with 0; the tutorial model was trained left-padded, the others right-padded."""
    rows = [vocabulary.encode(n).ids for n in names]
    if left_pad:
        flipped = vocabulary.pad([r[::-1] for r in rows], max_length)
        return flipped[:, ::-1].copy()
    return vocabulary.pad(rows, max_length)


class ColorModel:
    """A loaded colour model with the encoder its metadata describes."""

    def __init__(self, model: LoadedModel) -> None:
        meta = model.metadata
        self.model = model
        self.vocabulary = Vocabulary(meta.vocabulary, offset=1)
        self.max_length = meta.max_length
        self.left_pad = meta.extra.get("padding", "right") == "left"
        self.known: dict[str, str] = meta.extra.get("known_colors", {})
        self.sorted_names = sorted(self.known)
        self.bins = ColorBins(meta.extra["bins"]) if "bins" in meta.extra else None

    def raw(self, names: list[str]) -> np.ndarray:
        """The model's own output: bin probabilities (n, bins), or RGB (n, 3) in [0, 1]."""
        chars = encode_names(self.vocabulary, names, self.max_length, self.left_pad)
        return self.model.run({"chars": chars})["bins" if self.bins else "rgb"]

    def predict(self, names: list[str]) -> np.ndarray:
        """RGB in [0, 1] for normalised names, shape (n, 3): the answer only."""
        out = self.raw(names)
        return self.bins.answers(out) if self.bins else out

    def predict_with_alternatives(self, name: str) -> list[np.ndarray]:
        """The answer, then the distinct alternatives the model also sees (bins models)."""
        out = self.raw([name])[0]
        return [peak.rgb for peak in self.bins.peaks(out)] if self.bins else [out]


@dataclass(frozen=True)
class CheckedName:
    """A colour name that passed the input rules (`ColorService.validate`), as the model
    reads it, with the model it was checked against."""

    model: ColorModel
    name: str
    notes: tuple[str, ...]


def to_rgb255(values: np.ndarray) -> tuple[int, int, int]:
    r, g, b = (int(round(float(v) * 255)) for v in np.clip(values, 0.0, 1.0))
    return r, g, b


class ColorService:
    def __init__(self, engine: InferenceEngine, model_name: str = "color") -> None:
        self.engine = engine
        self.model_name = model_name
        self._cache: tuple[LoadedModel, ColorModel] | None = None

    def model(self) -> ColorModel:
        """The current model's wrapper, rebuilt only when the engine swapped the file."""
        loaded = self.engine.get(self.model_name, COLOR)
        if self._cache is None or self._cache[0] is not loaded:
            self._cache = (loaded, ColorModel(loaded))
        return self._cache[1]

    def validate(self, text: str) -> CheckedName:
        """Apply the input rules once, where the name comes in; the notes tell the user
        what was read differently."""
        model = self.model()
        text = text.strip()
        if not text:
            raise InvalidInput("Give a colour name, for example `forest`.")
        COLOR_COMMAND["name"].check(text)
        normalized = normalize_name(text)
        encoded = model.vocabulary.encode(normalized)
        notes = []
        kept = "".join(c for c in normalized if c in model.vocabulary)
        name = " ".join(kept.split())
        if not name:
            raise InvalidInput(
                "None of those characters are ones the colour model knows "
                "(it reads letters, digits and a little punctuation)."
            )
        if encoded.dropped:
            shown = " ".join(repr(c) for c in encoded.dropped[:10])
            notes.append(f"Ignored characters the model does not know: {shown}")
        if len(name) > model.max_length:
            name = name[: model.max_length].rstrip()
            notes.append(f"Only the first {model.max_length} characters were read.")
        return CheckedName(model, name, tuple(notes))

    def color(self, text: str | CheckedName, model_only: bool = False) -> ColorResult:
        """The colour of a name: a plain text is checked here (scripts), a checked name
        was checked already."""
        checked = text if isinstance(text, CheckedName) else self.validate(text)
        model, name, notes = checked.model, checked.name, list(checked.notes)
        if not model_only and name in model.known:
            return ColorResult(name, parse_hex(model.known[name]), "known", notes)
        answer, *others = (to_rgb255(c) for c in model.predict_with_alternatives(name))
        return ColorResult(name, answer, "model", notes, others)

    def suggest(self, typed: str, limit: int = 25) -> list[str]:
        """Known names starting with what was typed (for autocomplete)."""
        try:
            names = self.model().sorted_names
        except Exception:
            return []
        prefix = normalize_name(typed)
        start = bisect.bisect_left(names, prefix)
        out = []
        for name in names[start:]:
            if not name.startswith(prefix) or len(out) >= limit:
                break
            out.append(name)
        return out

    @staticmethod
    def render(result: ColorResult) -> bytes:
        return swatch_png(result.rgb, result.name, alternatives=result.alternatives)
