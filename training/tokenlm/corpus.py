"""Token streams for language-model training, with a validation split of whole chunks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.text.vocabulary import Vocabulary
from training.errors import UserError

MIN_CHARS = 2_000


def read_texts(paths: list[Path]) -> list[str]:
    texts = []
    for path in paths:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise UserError(f"{path}: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise UserError(f"{path} line {line}: not valid UTF-8 text") from None
        text = text.replace("\r\n", "\n")
        if len(text) < MIN_CHARS:
            raise UserError(
                f"{path}: only {len(text):,} characters; at least {MIN_CHARS:,} are needed"
            )
        texts.append(text)
    return texts


@dataclass
class Split:
    train: np.ndarray  # token ids, one stream (documents joined)
    val: np.ndarray


def split_chunks(ids: np.ndarray, chunk: int, every: int) -> Split:
    """Every `every`-th chunk of `chunk` tokens is held out, whole and contiguous.

    Held-out text never overlaps a training window, unlike random windows, and spreading
    the chunks over the corpus samples every part of it (every act, every chapter).
    """
    n_chunks = max(1, len(ids) // chunk)
    train, val = [], []
    for i in range(n_chunks):
        end = len(ids) if i == n_chunks - 1 else (i + 1) * chunk
        (val if i % every == every - 1 else train).append(ids[i * chunk : end])
    if not val:
        val, train = train[-1:], train[:-1]
    return Split(np.concatenate(train), np.concatenate(val))


def windows(stream: np.ndarray, seq_len: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping (input, next-token target) pairs: every position is a target."""
    usable = (len(stream) - offset - 1) // seq_len * seq_len
    if usable <= 0:
        raise UserError(f"not enough text for one sequence of {seq_len} characters")
    x = stream[offset : offset + usable].reshape(-1, seq_len)
    y = stream[offset + 1 : offset + usable + 1].reshape(-1, seq_len)
    return x, y


def build_vocabulary(texts: list[str]) -> Vocabulary:
    return Vocabulary.from_texts(texts)


def held_out_split_text(step_vocab: Vocabulary, data: list[Path], split: dict) -> str:
    """The validation chunks of the training split, rebuilt from the data files."""
    ids = np.concatenate([step_vocab.encode(t).ids for t in read_texts(data)])
    return step_vocab.decode(split_chunks(ids, split["val_chunk"], split["val_every"]).val)
