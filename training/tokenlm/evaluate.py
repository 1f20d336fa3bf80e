"""`evaluate write`: nats and bits per character of an exported step model on a text."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph
from bot.text.vocabulary import Vocabulary
from training.errors import UserError
from training.tokenlm.corpus import read_texts, split_chunks


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def stream_logps(step: StepGraph, ids: np.ndarray, streams: int) -> np.ndarray:
    """Log-probability (nats) of each of `ids[1:]` given the tokens before it, in order.

    The text is cut into `streams` contiguous pieces scored side by side (one batched step
    call per position); each piece starts from a zero state, as the bot's generation does.
    """
    streams = max(1, min(streams, (len(ids) - 1) // 2))
    length = (len(ids) - 1) // streams
    logps = np.zeros(len(ids) - 1)
    state = step.zero_state(streams)
    starts = np.arange(streams) * length
    for t in range(length):
        logits, state = step(ids[starts + t], state)
        targets = ids[starts + t + 1]
        logps[starts + t] = log_softmax(logits.astype(np.float64))[np.arange(streams), targets]
    # The tail that does not fill a whole column is scored on one stream.
    state = step.zero_state(1)
    for t in range(streams * length, len(ids) - 1):
        logits, state = step(ids[t : t + 1], state)
        logps[t] = log_softmax(logits.astype(np.float64))[0, ids[t + 1]]
    return logps


def stream_nats(step: StepGraph, ids: np.ndarray, streams: int) -> float:
    """Total negative log-likelihood (nats) of `ids[1:]` given the preceding tokens."""
    return -float(stream_logps(step, ids, streams).sum())


def load_step_model(model_path: Path) -> StepGraph:
    engine = InferenceEngine(Path(model_path).parent, prefer_gpu=False)
    try:
        return StepGraph(engine.load_file(Path(model_path)))
    except ValueError as exc:
        raise UserError(str(exc)) from None


def evaluate_text(step: StepGraph, text: str, streams: int = 64) -> dict:
    """Characters outside the vocabulary are removed before scoring and counted."""
    vocab = Vocabulary(step.model.metadata.vocabulary)
    unknown = sum(1 for c in text if c not in vocab)
    ids = vocab.encode(text).ids
    if len(ids) < 2:
        raise UserError("no characters of the model's vocabulary in that text")
    nats = stream_nats(step, ids, streams)
    n = len(ids) - 1
    return {
        "n_chars": n,
        "nats_per_char": round(nats / n, 4),
        "bits_per_char": round(nats / n / math.log(2), 4),
        "unknown_chars": unknown,
        "unknown_chars_fraction": round(unknown / max(1, len(text)), 6),
    }


def held_out_text(step: StepGraph, text: str) -> str:
    """The chunks the model's training held out (its metadata names the split), so a
    model is scored on text it never trained on, whatever text file it is given."""
    split = step.model.metadata.extra.get("split") or {}
    if "val_chunk" not in split:
        raise UserError("the model's metadata has no chunk split (train it with train write)")
    chars = np.array(list(text))
    return "".join(split_chunks(chars, split["val_chunk"], split["val_every"]).val)


def evaluate_lm(
    model_path: Path, data: list[Path], streams: int = 64, held_out: bool = False
) -> dict:
    step = load_step_model(model_path)
    text = "".join(read_texts(data))
    return evaluate_text(step, held_out_text(step, text) if held_out else text, streams)


def main(args) -> None:
    print(json.dumps(evaluate_lm(args.model, args.data, args.streams, args.held_out)))
