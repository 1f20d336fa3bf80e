"""Running the image encoder: pixels in, the image decoder's starting state out."""

from __future__ import annotations

import numpy as np

from bot.runtime.engine import LoadedModel
from bot.runtime.lm import State, StepGraph

BATCH = 32


def encode_pixels(encoder: LoadedModel, graph: StepGraph, pixels: np.ndarray) -> State:
    """The decoder's initial state for (N, size, size, 3) uint8 pixels (`image_pixels`).

    The encoder's metadata says which decoder state input each of its outputs sets; the
    entries it does not set (the LSTM state when the image is fed at every step) start at
    zero, as for text without an image.
    """
    outputs: dict[str, list[np.ndarray]] = {
        s["output"]: [] for s in encoder.metadata.extra["state"]
    }
    for lo in range(0, len(pixels), BATCH):
        for name, value in encoder.run({"image": pixels[lo : lo + BATCH]}).items():
            outputs[name].append(value)
    by_input = {
        s["decoder_input"]: np.concatenate(outputs[s["output"]])
        for s in encoder.metadata.extra["state"]
    }
    zero = graph.zero_state(len(pixels))
    return [by_input.get(s["input"], z) for s, z in zip(graph.layout, zero, strict=True)]
