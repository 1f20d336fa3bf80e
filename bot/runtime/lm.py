"""Autoregressive generation over any single-step token model (text, captions, pixels).

A step function takes token ids (B,) and the recurrent state and returns next-token
logits (B, V) and the new state, so generation costs one small call per token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from bot.runtime.engine import LoadedModel
from bot.runtime.sampling import SamplingConfig, sample

State = list[np.ndarray]
StepFn = Callable[[np.ndarray, State], tuple[np.ndarray, State]]


class StepGraph:
    """An exported step model, its state layout read from the metadata."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.layout = model.metadata.extra["state"]  # [{"input", "output", "size"}, ...]
        self.contexts = [c["input"] for c in model.metadata.extra.get("contexts", [])]
        self._inputs = ["tokens", *self.contexts, *(s["input"] for s in self.layout)]
        self._outputs = ["logits", *(s["output"] for s in self.layout)]

    def zero_state(self, batch: int = 1) -> State:
        return [np.zeros((batch, s["size"]), np.float32) for s in self.layout]

    def __call__(
        self, tokens: np.ndarray, state: State, contexts: Sequence[np.ndarray] = ()
    ) -> tuple[np.ndarray, State]:
        """`contexts`: one int array (B,) per context input, for models that have them."""
        if len(contexts) != len(self.contexts):
            raise ValueError(f"{len(self.contexts)} context inputs expected, {len(contexts)} given")
        if len(state) != len(self.layout):
            raise ValueError(f"{len(self.layout)} state arrays expected, {len(state)} given")
        values = [np.asarray(tokens, np.int32), *(np.asarray(c, np.int32) for c in contexts)]
        feeds = dict(zip(self._inputs, values + list(state), strict=True))
        logits, *new_state = self.model.session.run(self._outputs, feeds)
        return logits, new_state


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
    banned: Sequence[int] = (),
) -> Iterator[int]:
    """Yield up to `max_new` sampled tokens after `prompt`; stops early at `end_token`.

    `banned` tokens (a start token, say) are input-only and never sampled.
    """
    logits, state = prime(step, state, prompt)
    for _ in range(max_new):
        if len(banned):
            logits = logits.copy()
            logits[list(banned)] = -np.inf
        token = sample(logits, sampling, rng)
        if token == end_token:
            return
        yield token
        logits, state = step(np.array([token], np.int32), state)
        logits = logits[0]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def beam_search(
    step: StepFn,
    state: State,
    prompt: Sequence[int],
    max_new: int,
    width: int,
    end_token: int,
    results: int = 1,
    banned: Sequence[int] = (),
    reject: Callable[[list[int]], bool] | None = None,
) -> list[tuple[list[int], float]]:
    """The `results` most likely continuations (tokens, mean log-probability per token).

    All live beams advance in one batched step call. Finished beams are ranked by their
    mean log-probability (END included), so short captions do not win by being short.
    `reject(tokens)` drops a candidate (a repetition guard, say); it sees the candidate's
    tokens, END included when it ends there.
    """
    logits, state = prime(step, state, prompt)
    beams: list[tuple[list[int], float]] = [([], 0.0)]
    scores = log_softmax(logits[None])
    scores[:, list(banned)] = -np.inf
    finished: list[tuple[list[int], float]] = []
    for _ in range(max_new):
        candidates = []
        for b, (_, total) in enumerate(beams):
            # More than `width` per beam, so that rejected or finished candidates leave
            # others to fill the beam (with exactly `width`, a guard could end the search).
            for token in np.argsort(-scores[b])[: 2 * width + 2]:
                candidates.append((total + float(scores[b, token]), b, int(token)))
        candidates.sort(key=lambda c: -c[0])
        next_beams, parents = [], []
        for total, b, token in candidates:
            tokens = beams[b][0] + [token]
            if reject is not None and reject(tokens):
                continue
            if token == end_token:
                finished.append((tokens[:-1], total / len(tokens)))
            elif len(next_beams) < width:
                next_beams.append((tokens, total))
                parents.append(b)
            if len(next_beams) == width:
                break
        if len(finished) >= width or not next_beams:
            break
        beams = next_beams
        state = [s[parents] for s in state]
        logits, state = step(np.array([t[-1] for t, _ in beams], np.int32), state)
        scores = log_softmax(logits)
        scores[:, list(banned)] = -np.inf
    else:  # length limit reached: unfinished beams compete too
        finished += [(tokens, total / (len(tokens) + 1)) for tokens, total in beams]
    finished.sort(key=lambda f: -f[1])
    unique: list[tuple[list[int], float]] = []
    for tokens, score in finished:
        if all(tokens != u[0] for u in unique):
            unique.append((tokens, score))
    return unique[: min(results, width)]  # a beam of width W keeps at most W captions
