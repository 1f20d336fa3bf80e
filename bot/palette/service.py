"""`/palette`: an image's dominant colours, each with the nearest known colour name and a
name the /name model invents for it.

The colours are k-means clusters in CIELAB (distances there follow what people see) of a
downsized copy, weighted by how many pixels hold each colour. Everything is seeded, so the
same image gives the same palette, invented names included (each name's seed is its
colour). A cluster is shown as the mean sRGB of its pixels, so a picture of flat colours
gives those colours back exactly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from bot.color.lab import srgb_to_lab
from bot.color.service import ColorService
from bot.errors import UserFacingError
from bot.images import open_image
from bot.name.service import NameRequest, NameService
from bot.render import hex_color, palette_png, parse_hex

COLORS = 5
SIDE = 64  # the downsized copy's longest side: enough pixels for the dominant colours
ITERATIONS = 30


@dataclass
class PaletteColor:
    rgb: tuple[int, int, int]
    share: float  # of the image's pixels
    known: str  # the nearest colour of the known lists
    invented: str  # a name the /name model made up ("" when it is unavailable)

    @property
    def hex(self) -> str:
        return hex_color(self.rgb)


@dataclass
class PaletteResult:
    colors: list[PaletteColor]
    notes: list[str] = field(default_factory=list)


def downsized(image: Image.Image, side: int = SIDE) -> np.ndarray:
    """Pixels of a copy at most `side` on its longest side, (n, 3) uint8. Nearest-pixel
    sampling, so no colour appears that the picture does not have."""
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.NEAREST)
    return np.asarray(copy.convert("RGB"), np.uint8).reshape(-1, 3)


Share = tuple[tuple[int, int, int], float]  # a colour and the part of the image it holds


def dominant_colors(pixels: np.ndarray, k: int = COLORS) -> list[Share]:
    """The `k` dominant colours of (n, 3) uint8 pixels with their shares, largest first."""
    colors, counts = np.unique(pixels, axis=0, return_counts=True)
    weights = counts.astype(np.float64)
    lab = srgb_to_lab(colors / 255.0)
    labels = _kmeans(lab, weights, min(k, len(colors)))
    found = []
    for cluster in np.unique(labels):
        members = labels == cluster
        mean = np.average(colors[members], axis=0, weights=weights[members])
        rgb = tuple(int(v) for v in np.rint(mean))
        found.append((rgb, float(weights[members].sum() / weights.sum())))
    return sorted(found, key=lambda c: (-c[1], c[0]))


def _kmeans(points: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Weighted Lloyd iterations from a seeded k-means++ start; a cluster label per point."""
    rng = np.random.default_rng(0)
    centres = [points[rng.choice(len(points), p=weights / weights.sum())]]
    for _ in range(1, k):
        nearest = np.min(((points[:, None] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        chance = weights * nearest
        if chance.sum() == 0:
            break
        centres.append(points[rng.choice(len(points), p=chance / chance.sum())])
    centres = np.array(centres)
    labels = np.zeros(len(points), int)
    for _ in range(ITERATIONS):
        labels = np.argmin(((points[:, None] - centres[None]) ** 2).sum(-1), axis=1)
        moved = centres.copy()
        for c in range(len(centres)):
            members = labels == c
            if members.any():
                moved[c] = np.average(points[members], axis=0, weights=weights[members])
        if np.allclose(moved, centres):
            break
        centres = moved
    return labels


class PaletteService:
    def __init__(self, colors: ColorService, names: NameService) -> None:
        self.colors = colors
        self.names = names
        self._known: tuple[object, list[str], np.ndarray] | None = None

    def nearest_known(self, rgb: tuple[int, int, int]) -> str:
        """The known colour name nearest in CIELAB (its lists are in the colour model)."""
        model = self.colors.model()
        if self._known is None or self._known[0] is not model:
            names = sorted(model.known)
            rgbs = np.array([parse_hex(model.known[n]) for n in names], np.float64)
            self._known = (model, names, srgb_to_lab(rgbs / 255.0))
        _, names, lab = self._known
        target = srgb_to_lab(np.asarray(rgb, np.float64) / 255.0)
        return names[int(np.argmin(((lab - target) ** 2).sum(-1)))]

    def colors_of(self, data: bytes) -> list[Share]:
        return dominant_colors(downsized(open_image(data)))

    async def palette_async(self, data: bytes, deadline: float | None = None) -> PaletteResult:
        """The palette of an image file's bytes; the names are invented side by side."""
        found = await asyncio.to_thread(self.colors_of, data)
        notes: list[str] = []
        try:
            known = await asyncio.to_thread(lambda: [self.nearest_known(rgb) for rgb, _ in found])
        except UserFacingError as error:  # the colours stand without their names
            known = [""] * len(found)
            notes.append(f"No known names: {error}")
        try:
            named = await asyncio.gather(
                *(self.names.name_async(_request(rgb), deadline) for rgb, _ in found)
            )
            invented = [result.names[0] if result.names else "" for result in named]
        except UserFacingError as error:
            invented = [""] * len(found)
            notes.append(f"No invented names: {error}")
        colors = [
            PaletteColor(rgb, share, near, new)
            for (rgb, share), near, new in zip(found, known, invented, strict=True)
        ]
        return PaletteResult(colors, notes)

    def palette(self, data: bytes) -> PaletteResult:
        """Scripts and the console: the same palette, waited for."""
        return asyncio.run(self.palette_async(data))

    @staticmethod
    def render(result: PaletteResult) -> bytes:
        return palette_png([(c.rgb, c.hex, c.known, c.invented) for c in result.colors])


def _request(rgb: tuple[int, int, int]) -> NameRequest:
    """The same colour gets the same invented name: the seed is the colour."""
    return NameRequest(hex_color(rgb), seed=(rgb[0] << 16) | (rgb[1] << 8) | rgb[2])
