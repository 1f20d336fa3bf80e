"""Choosing the next token from logits: temperature, top-k, top-p, all in numpy.

Each request owns its `numpy.random.Generator` and draws exactly one uniform number per
token, so a request's text depends only on its seed and its own logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

GREEDY_BELOW = 1e-3  # temperatures this low are greedy: dividing by them would overflow


@dataclass(frozen=True)
class SamplingConfig:
    # 1 samples the model's own distribution; 0 (or anything below GREEDY_BELOW) is greedy
    # (argmax). Each command declares the range its users may choose (`bot.commands`).
    temperature: float = 1.0
    top_k: int = 0  # 0 means no limit
    top_p: float = 1.0  # nucleus mass; 1.0 means no limit

    def __post_init__(self) -> None:
        if not 0 <= self.temperature < float("inf"):
            raise ValueError("temperature must be a finite number, 0 or more")
        if self.top_k < 0:
            raise ValueError("top_k must be 0 (off) or positive")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")


def next_token_probabilities(logits: np.ndarray, config: SamplingConfig) -> np.ndarray:
    """The distribution actually sampled from, after temperature and truncation."""
    z = np.asarray(logits, dtype=np.float64) / config.temperature
    if config.top_k and config.top_k < z.size:
        cutoff = np.partition(z, -config.top_k)[-config.top_k]
        z = np.where(z >= cutoff, z, -np.inf)
    z -= z.max()
    probs = np.exp(z)
    probs /= probs.sum()
    if config.top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cumulative, config.top_p) + 1)]
        mask = np.zeros_like(probs)
        mask[keep] = probs[keep]
        probs = mask / mask.sum()
    return probs


def needs_draw(config: SamplingConfig) -> bool:
    """Whether choosing a token takes a uniform draw (greedy choices take none)."""
    return config.temperature >= GREEDY_BELOW


def choose(logits: np.ndarray, config: SamplingConfig, draw: float) -> int:
    """The token at `draw` (uniform in [0, 1)) of the distribution; greedy ignores it."""
    if not needs_draw(config):
        return int(np.argmax(logits))
    probs = next_token_probabilities(logits, config)
    cumulative = np.cumsum(probs)
    index = int(np.searchsorted(cumulative, draw * cumulative[-1], side="right"))
    return min(index, int(np.flatnonzero(probs)[-1]))  # never a zero-probability token


def sample(logits: np.ndarray, config: SamplingConfig, rng: np.random.Generator) -> int:
    return choose(logits, config, rng.random() if needs_draw(config) else 0.0)


def is_plain(config: SamplingConfig) -> bool:
    """Plain temperature sampling: no greedy choice, no top-k or top-p truncation."""
    return config.temperature >= GREEDY_BELOW and not config.top_k and config.top_p >= 1.0


def choose_rows(
    logits: np.ndarray,
    configs: Sequence[SamplingConfig],
    draws: Sequence[float],
    banned: Sequence[Sequence[int]],
) -> list[int]:
    """One token per row of `logits` (n, V), each with its own settings and draw.

    Rows with plain temperature sampling are done together in one set of array
    operations; the arithmetic per row is that of `choose`, so the tokens are the same as
    choosing each row alone. Other rows (greedy, top-k, top-p) go through `choose`. No
    random generator is touched here: a failure cannot shift anyone's stream.
    """
    return RowChooser(configs, banned)(np.asarray(logits), draws)


class RowChooser:
    """`choose_rows` for a fixed set of rows: what does not change from one step to the
    next (which rows are plain, their divisors, where the banned tokens are) is worked
    out once, so a batcher builds one when its batch changes, not once per step."""

    def __init__(self, configs: Sequence[SamplingConfig], banned: Sequence[Sequence[int]]) -> None:
        self.configs, self.banned = list(configs), list(banned)
        plain = [is_plain(c) for c in self.configs]
        self.all_plain = all(plain)
        self.plain_rows = [row for row, p in enumerate(plain) if p]
        self.other_rows = [row for row, p in enumerate(plain) if not p]
        temperatures = [self.configs[r].temperature for r in self.plain_rows]
        if len(set(temperatures)) <= 1:
            self._divisor: float | np.ndarray = temperatures[0] if temperatures else 1.0
        else:
            self._divisor = np.array(temperatures, np.float64)[:, None]
        rows = [i for i, r in enumerate(self.plain_rows) for _ in self.banned[r]]
        tokens = [t for r in self.plain_rows for t in self.banned[r]]
        self._banned_at = (np.array(rows, np.intp), np.array(tokens, np.intp)) if rows else ()
        # One plain row (a painting alone, one /write): `choose`'s own 1-D operations,
        # fewer and cheaper calls than the same arithmetic along axis 1.
        self._one = len(self.configs) == 1 and self.all_plain

    def __call__(self, logits: np.ndarray, draws: Sequence[float]) -> list[int]:
        if self._one:
            return [_choose_one(logits[0], self._divisor, self.banned[0], draws[0])]
        if self.all_plain:
            return _choose_plain(logits, self._divisor, self._banned_at, draws)
        chosen = [0] * len(self.configs)
        for row in self.other_rows:
            masked = logits[row].copy()
            masked[list(self.banned[row])] = -np.inf
            chosen[row] = choose(masked, self.configs[row], draws[row])
        if self.plain_rows:
            rows = self.plain_rows
            picked = [draws[r] for r in rows]
            tokens = _choose_plain(logits[rows], self._divisor, self._banned_at, picked)
            for row, token in zip(rows, tokens, strict=True):
                chosen[row] = token
        return chosen


def _choose_one(logits: np.ndarray, temperature: float, banned: Sequence[int], draw: float) -> int:
    """`choose` for one row with plain temperature sampling, step for step."""
    z = np.divide(logits, temperature, dtype=np.float64)
    for token in banned:
        z[token] = -np.inf
    z -= z.max()
    probs = np.exp(z, out=z)
    probs /= probs.sum()
    cumulative = probs.cumsum()
    index = int(cumulative.searchsorted(draw * cumulative[-1], side="right"))
    return index if index < len(probs) else int(np.flatnonzero(probs)[-1])


def _choose_plain(
    logits: np.ndarray,
    divisor: float | np.ndarray,
    banned_at: tuple[np.ndarray, ...],
    draws: Sequence[float],
) -> list[int]:
    """`choose` for rows with plain temperature sampling: the same operations along axis 1.

    `divisor` is the one temperature, or a column of them; `banned_at` the (rows, tokens)
    set to -inf (before or after the division alike). The token is the first whose
    cumulative probability exceeds the draw's point, so it never has probability zero
    unless no token exceeds it (the point rounded up to the total): only then is it moved
    back to the last token with any probability, as `choose` does."""
    z = np.divide(logits, divisor, dtype=np.float64)
    if banned_at:
        z[banned_at] = -np.inf
    z -= z.max(axis=1, keepdims=True)
    probs = np.exp(z, out=z)
    probs /= probs.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(probs, axis=1)
    if len(cumulative) == 1:  # one row: the same count, in fewer array operations
        row = cumulative[0]
        tokens = [int(row.searchsorted(draws[0] * row[-1], side="right"))]
    else:
        points = np.multiply(draws, cumulative[:, -1])
        tokens = (cumulative <= points[:, None]).sum(axis=1).tolist()
    width = probs.shape[1]
    if max(tokens) >= width:
        for row, token in enumerate(tokens):
            if token >= width:
                tokens[row] = int(np.flatnonzero(probs[row])[-1])
    return tokens


def sample_rows(
    logits: np.ndarray,
    configs: Sequence[SamplingConfig],
    rngs: Sequence[np.random.Generator],
    banned: Sequence[Sequence[int]],
) -> list[int]:
    """`choose_rows` with one draw from each row's own generator (none for greedy rows),
    so the tokens are those of `sample` row by row."""
    draws = [rng.random() if needs_draw(c) else 0.0 for c, rng in zip(configs, rngs, strict=True)]
    return choose_rows(logits, configs, draws, banned)
