"""Autoregressive generation over any single-step token model (text, captions, pixels).

A step function takes token ids (B,) and the recurrent state and returns next-token
logits (B, V) and the new state, so generation costs one small call per token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from bot.engine import LoadedModel
from bot.sampling import SamplingConfig, sample

State = list[np.ndarray]
StepFn = Callable[[np.ndarray, State], tuple[np.ndarray, State]]


class StepGraph:
    """An exported step model, its state layout read from the metadata."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.layout = model.metadata.extra["state"]  # [{"input", "output", "size"}, ...]

    def zero_state(self, batch: int = 1) -> State:
        return [np.zeros((batch, s["size"]), np.float32) for s in self.layout]

    def __call__(self, tokens: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        feeds = {"tokens": np.asarray(tokens, np.int32)}
        feeds.update({s["input"]: h for s, h in zip(self.layout, state, strict=True)})
        out = self.model.run(feeds)
        return out["logits"], [out[s["output"]] for s in self.layout]


def prime(step: StepFn, state: State, tokens: Sequence[int]) -> tuple[np.ndarray, State]:
    """Run the prompt through the model; returns the logits after its last token."""
    if not tokens:
        raise ValueError("priming needs at least one token")
    logits = None
    for token in tokens:
        logits, state = step(np.array([token], np.int32), state)
    return logits[0], state


def generate(
    step: StepFn,
    state: State,
    prompt: Sequence[int],
    max_new: int,
    sampling: SamplingConfig,
    rng: np.random.Generator,
    end_token: int | None = None,
) -> Iterator[int]:
    """Yield up to `max_new` sampled tokens after `prompt`; stops early at `end_token`."""
    logits, state = prime(step, state, prompt)
    for _ in range(max_new):
        token = sample(logits, sampling, rng)
        if token == end_token:
            return
        yield token
        logits, state = step(np.array([token], np.int32), state)
        logits = logits[0]
