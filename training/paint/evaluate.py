"""`evaluate paint`: bits per pixel of a painter on a folder of images, exactly.

Images are resized to the model's size and quantised with its own palette; every
painting is scored whole (all its pixels, state carried), paintings side by side in one
batched step call per pixel position. Bits are of the palette index, not of raw RGB.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bot.engine import InferenceEngine
from bot.lm import StepGraph, log_softmax
from bot.paint.tokens import context_kinds, step_inputs
from training.errors import UserError
from training.paint.data import load_paintings, quantize


def painting_nats(graph: StepGraph, indices: np.ndarray) -> float:
    """Total nats of all pixels of `indices` (n, h, w) under the step model."""
    extra = graph.model.metadata.extra
    k = extra["start_token"]
    previous, *contexts = step_inputs(indices, k, context_kinds(extra.get("contexts", [])))
    targets = indices.reshape(len(indices), -1)
    state = graph.zero_state(len(indices))
    total = 0.0
    for t in range(targets.shape[1]):
        logits, state = graph(previous[:, t], state, [c[:, t] for c in contexts])
        total -= float(log_softmax(logits)[np.arange(len(indices)), targets[:, t]].sum())
    return total


def evaluate_paint(model_path: Path, folder: Path) -> dict:
    engine = InferenceEngine(Path(model_path).parent, prefer_gpu=False)
    try:
        graph = StepGraph(engine.load_file(Path(model_path)))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    extra = graph.model.metadata.extra
    paintings = load_paintings(folder, extra["size"])
    indices = quantize(paintings.pixels, np.asarray(extra["palette"], np.uint8))
    nats = painting_nats(graph, indices)
    pixels = indices.size
    return {
        "n_images": len(paintings.names),
        "skipped_files": sum(paintings.skipped.values()),
        "pixels": int(pixels),
        "bits_per_pixel": round(nats / pixels / math.log(2), 4),
        "nats_per_pixel": round(nats / pixels, 4),
        "variant": extra["variant"],
        "colors": len(extra["palette"]),
    }


def main(args) -> None:
    print(json.dumps(evaluate_paint(args.model, args.data)))
