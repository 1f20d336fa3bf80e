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

    def answers(self, probabilities: np.ndarray, sharpen: float = SHARPEN) -> np.ndarray:
        """The answer for each row of (n, bins) probabilities: (n, 3) RGB in [0, 1]."""
        p = np.asarray(probabilities, np.float64)
        if np.isinf(sharpen):  # the likeliest bin itself
            return self.rgb[p.argmax(axis=-1)]
        sharp = (p / p.max(axis=-1, keepdims=True)) ** sharpen
        return (sharp @ self.rgb) / sharp.sum(axis=-1, keepdims=True)

    def peaks(self, probabilities: np.ndarray, count: int = 3) -> list[Peak]:
        """The answer first, then up to `count - 1` alternatives (see the module doc)."""
        p = np.asarray(probabilities, np.float64)
        answer = self.answers(p[None])[0]
        taken = [srgb_to_lab(answer)]
        found = [Peak(answer, 1.0)]
        for b in np.argsort(-p):
            if len(found) == count or p[b] < MIN_MASS / 20:  # too small to anchor a peak
                break
            if min(np.linalg.norm(self.lab[b] - lab) for lab in taken) < DISTINCT:
                continue
            near = self.distance[b] < RADIUS
            mass = float(p[near].sum())
            if mass >= MIN_MASS:
                found.append(Peak(p[near] @ self.rgb[near] / mass, mass))
                taken.append(self.lab[b])
        return found
