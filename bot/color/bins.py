"""A colour distribution over bins -> an answer and up to two distinct alternatives.

A regressor trained on squared error answers the average of the colours a name could be
("forest": a grey olive). The bins model instead gives a probability for each of a few
hundred CIELAB bins (the metadata's `bins`, as sRGB hex).

- The answer is the mean of the distribution sharpened to the power `SHARPEN`: the
  dominant colours weigh more than the long tail of unlikely ones, so the answer keeps the
  chroma of the likely colours. Measured on the 3,432 held-out names (model card): the
  plain mean (power 1) is the most accurate and the greyest, the likeliest bin (power
  infinity) the most vivid and least accurate; 1.7 is as accurate as the regressor it
  replaced and about 23% more chromatic.
- Alternatives are other peaks of the (unsharpened) distribution, at least `DISTINCT`
  CIELAB units from the answer and from each other, each the weighted mean of the bins
  within `RADIUS` of its peak, shown when that neighbourhood holds at least `MIN_MASS`.

Used by the bot's colour service and by training's evaluation, so both decode alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.color.lab import srgb_to_lab
from bot.render import parse_hex

SHARPEN = 1.7
RADIUS = 12.0
DISTINCT = 25.0
MIN_MASS = 0.10
_ROUNDING = 1e-9  # far above the error of summing a few hundred probabilities


@dataclass(frozen=True)
class Peak:
    rgb: np.ndarray  # (3,) in [0, 1]
    mass: float  # probability within RADIUS of the peak (1.0 for the answer)


class ColorBins:
    """The bins of a model: their colours, and how far apart they are in CIELAB."""

    def __init__(self, hex_colors: list[str]) -> None:
        self.rgb = np.array([parse_hex(h) for h in hex_colors]) / 255
        self.lab = srgb_to_lab(self.rgb)
        self.distance = np.linalg.norm(self.lab[:, None] - self.lab[None], axis=-1)
        # 1.0 where two bins are within RADIUS: `neighbourhood @ p` is every bin's mass.
        self.neighbourhood = (self.distance < RADIUS).astype(np.float64)

    def answers(self, probabilities: np.ndarray, sharpen: float = SHARPEN) -> np.ndarray:
        """The answer for each row of (n, bins) probabilities: (n, 3) RGB in [0, 1]."""
        p = np.asarray(probabilities, np.float64)
        if np.isinf(sharpen):  # the likeliest bin itself
            return self.rgb[p.argmax(axis=-1)]
        sharp = (p / p.max(axis=-1, keepdims=True)) ** sharpen
        return (sharp @ self.rgb) / sharp.sum(axis=-1, keepdims=True)

    def peaks(self, probabilities: np.ndarray, count: int = 3) -> list[Peak]:
        """The answer first, then up to `count - 1` alternatives (see the module doc).

        `apart` holds each bin's distance to the nearest peak taken so far, updated from
        the precomputed `distance` rows as peaks are taken, so a bin is checked with one
        lookup instead of a norm per peak.
        """
        p = np.asarray(probabilities, np.float64)
        answer = self.answers(p[None])[0]
        found = [Peak(answer, 1.0)]
        apart = np.linalg.norm(self.lab - srgb_to_lab(answer), axis=-1)
        for b in self._anchors(p):
            if len(found) == count:
                break
            if apart[b] < DISTINCT:
                continue
            near = self.distance[b] < RADIUS
            mass = float(p[near].sum())
            if mass >= MIN_MASS:
                found.append(Peak(p[near] @ self.rgb[near] / mass, mass))
                apart = np.minimum(apart, self.distance[b])
        return found

    def _anchors(self, p: np.ndarray) -> np.ndarray:
        """The bins that could anchor a peak, likeliest first: those before the first
        too unlikely to (under MIN_MASS / 20), less those whose neighbourhood clearly
        holds less than MIN_MASS.

        Leaving a bin out that `peaks` would reject changes nothing, as a rejected bin
        moves no distances. The matrix product sums in another order than `peaks`, so
        it only rules out bins short by more than any rounding; `peaks` decides the rest.
        """
        order = np.argsort(-p)
        small = np.flatnonzero(p[order] < MIN_MASS / 20)
        if small.size:
            order = order[: small[0]]
        heavy = (self.neighbourhood @ p)[order] >= MIN_MASS - _ROUNDING
        return order[heavy]
