"""Character vocabularies shared by training and inference, so both encode text the same way."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

# Typographic variants that users type but that mean the same character to the models.
_CHAR_ALIASES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


def normalize_name(text: str) -> str:
    """Fold a short name (a colour name) to the form the colour model is trained on.

    Accents are stripped (café -> cafe) and case and whitespace are folded so that the
    many spellings users type map onto the small alphabet the model has seen.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_CHAR_ALIASES)).casefold()
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())


@dataclass(frozen=True)
class Encoded:
    ids: np.ndarray
    dropped: tuple[str, ...]


class Vocabulary:
    """Maps characters to ids; ids below `offset` are reserved (0 is padding when offset=1)."""

    def __init__(self, tokens: Iterable[str], offset: int = 0) -> None:
        self.tokens = list(tokens)
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.offset = offset
        self._ids = {tok: i + offset for i, tok in enumerate(self.tokens)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], offset: int = 0) -> Vocabulary:
        chars: set[str] = set()
        for text in texts:
            chars.update(text)
        return cls(sorted(chars), offset)

    @property
    def size(self) -> int:
        """Number of ids including the reserved ones (the width of an embedding or softmax)."""
        return len(self.tokens) + self.offset

    def __contains__(self, char: str) -> bool:
        return char in self._ids

    def encode(self, text: str) -> Encoded:
        """Encode, dropping characters the model never saw (reported, not silently lost)."""
        ids = [self._ids[c] for c in text if c in self._ids]
        dropped = tuple(dict.fromkeys(c for c in text if c not in self._ids))
        return Encoded(np.asarray(ids, dtype=np.int32), dropped)

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.tokens[i - self.offset] for i in ids if i >= self.offset)

    def pad(self, sequences: list[np.ndarray], length: int) -> np.ndarray:
        """Right-pad with id 0 (masked by the model) and truncate to `length`."""
        out = np.zeros((len(sequences), length), dtype=np.int32)
        for row, seq in enumerate(sequences):
            seq = seq[:length]
            out[row, : len(seq)] = seq
        return out
