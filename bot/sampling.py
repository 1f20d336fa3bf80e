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
    temperature: float = 0.8  # 0 (or anything below GREEDY_BELOW) means greedy (argmax)
    top_k: int = 0  # 0 means no limit
    top_p: float = 1.0  # nucleus mass; 1.0 means no limit

    def __post_init__(self) -> None:
        if not 0 <= self.temperature <= 5:
            raise ValueError("temperature must be between 0 and 5")
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


def _plain(config: SamplingConfig) -> bool:
    return needs_draw(config) and not config.top_k and config.top_p >= 1.0


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
    logits = np.asarray(logits)
    if any(len(b) for b in banned):
        logits = logits.copy()
        for row, tokens in enumerate(banned):
            if len(tokens):
                logits[row, list(tokens)] = -np.inf
    plain = [row for row, config in enumerate(configs) if _plain(config)]
    if len(plain) < 2:
        plain = []
    chosen = [0] * len(configs)
    vectorised = set(plain)
    for row, config in enumerate(configs):
        if row not in vectorised:
            chosen[row] = choose(logits[row], config, draws[row])
    if plain:
        temperatures = np.array([configs[r].temperature for r in plain], np.float64)
        z = logits[plain].astype(np.float64) / temperatures[:, None]
        z -= z.max(axis=1, keepdims=True)
        probs = np.exp(z)
        probs /= probs.sum(axis=1, keepdims=True)
        cumulative = np.cumsum(probs, axis=1)
        points = np.array([draws[r] for r in plain]) * cumulative[:, -1]
        index = (cumulative <= points[:, None]).sum(axis=1)
        last_nonzero = probs.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
        for row, token in zip(plain, np.minimum(index, last_nonzero), strict=True):
            chosen[row] = int(token)
    return chosen


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
