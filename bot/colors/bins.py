"""A colour distribution over bins -> an answer and up to two distinct alternatives.

A regressor trained on squared error answers the average of the colours a name could be
("forest": a grey olive). The bins model instead gives a probability for each of a few
hundred CIELAB bins (the metadata's `bins`, as sRGB hex). The answer is the peak of that
distribution smoothed over a small neighbourhood (so mass split between two adjacent
bins still counts as one colour), refined to the neighbourhood's weighted mean; the
alternatives are the next peaks at least `DISTINCT` apart from the ones chosen, shown only
when they hold a fair share of the answer's mass.

Used by the bot's colour service and by training's evaluation, so both decode alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.colors.lab import srgb_to_lab

RADIUS = 10.0  # CIELAB distance within which bins count as the same colour
DISTINCT = 25.0  # alternatives are at least this far from every colour already chosen
MIN_SHARE = 0.25  # an alternative needs this share of the answer's smoothed mass
MIN_MASS = 0.05  # and this much probability of its own


@dataclass(frozen=True)
class Peak:
    rgb: np.ndarray  # (3,) in [0, 1]
    mass: float  # probability within RADIUS of the peak


class ColorBins:
    """The bins of a model: their colours, and which bins are near which."""

    def __init__(self, hex_colors: list[str]) -> None:
        self.rgb = np.array(
            [[int(h.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)] for h in hex_colors]
        )
        lab = srgb_to_lab(self.rgb)
        distance = np.linalg.norm(lab[:, None] - lab[None], axis=-1)
        self.near = (distance < RADIUS).astype(np.float64)
        self.distance = distance

    def peaks(self, probabilities: np.ndarray, count: int = 3) -> list[Peak]:
        """The answer first, then up to `count - 1` alternatives (see the module doc)."""
        p = np.asarray(probabilities, np.float64)
        smoothed = self.near @ p
        chosen: list[int] = []
        for b in np.argsort(-smoothed):
            if len(chosen) == count:
                break
            if any(self.distance[b, c] < DISTINCT for c in chosen):
                continue
            if chosen and (smoothed[b] < MIN_SHARE * smoothed[chosen[0]] or smoothed[b] < MIN_MASS):
                break
            chosen.append(int(b))
        return [self._peak(p, b, smoothed[b]) for b in chosen]

    def _peak(self, p: np.ndarray, b: int, mass: float) -> Peak:
        weights = self.near[b] * p
        return Peak(weights @ self.rgb / weights.sum(), float(mass))

    def answers(self, probabilities: np.ndarray) -> np.ndarray:
        """The answer for each row of (n, bins) probabilities: (n, 3) RGB in [0, 1]."""
        return np.stack([self.peaks(row, count=1)[0].rgb for row in probabilities])
