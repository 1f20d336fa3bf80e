"""`evaluate paint`: bits per pixel of a painter on a folder of images, exactly.

Images are resized to the model's size and quantised with its own palette; every
painting is scored whole (all its pixels, state carried), paintings side by side in one
batched step call per pixel position. Bits are of the palette index, not of raw RGB.
A painter that draws a thumbnail first pays for it too: its bits per pixel are the
thumbnail's and the painting's nats together, over the painting's pixels.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bot.contract.pixels import context_kinds, step_inputs, step_targets
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph, log_softmax
from training.errors import UserError
from training.paint.data import load_paintings, quantize, thumbnails
from training.tokenlm.evaluate import load_step_model


def painting_nats(graph: StepGraph, pixels: np.ndarray) -> dict[str, float]:
    """Total nats of the paintings `pixels` (n, size, size, 3) under the step model, in
    its palette: `thumbnail` (0 for painters without one) and `painting`."""
    extra = graph.model.metadata.extra
    k = extra["start_token"]
    palette = np.asarray(extra["palette"], np.uint8)
    indices = quantize(pixels, palette)
    grid = int(extra.get("thumbnail", 0))
    thumbnail = thumbnails(pixels, palette, grid) if grid else None
    kinds = context_kinds(extra.get("contexts", []))
    previous, *contexts = step_inputs(indices, k, kinds, thumbnail)
    targets = step_targets(indices, thumbnail)
    state = graph.zero_state(len(indices))
    nats = np.zeros(targets.shape[1])
    for t in range(targets.shape[1]):
        logits, state = graph(previous[:, t], state, [c[:, t] for c in contexts])
        nats[t] = -log_softmax(logits)[np.arange(len(indices)), targets[:, t]].sum()
    return {
        "thumbnail": float(nats[: grid * grid].sum()),
        "painting": float(nats[grid * grid :].sum()),
    }


def bits_per_pixel(nats: dict[str, float], pixels: int) -> float:
    """Bits per painted pixel, a thumbnail's included."""
    return sum(nats.values()) / pixels / math.log(2)


def held_out_bits(
    model_path: Path, folder: Path, val_names: list[str] | None = None
) -> tuple[float, int]:
    """Bits per pixel on the held-out paintings (the model's own split unless
    `val_names` names them), and how many there were."""
    graph = load_step_model(model_path)
    extra = graph.model.metadata.extra
    paintings = load_paintings(folder, extra["size"])
    held = set(extra["split"]["val_names"] if val_names is None else val_names)
    pixels = paintings.pixels[np.array([n in held for n in paintings.names])]
    if not len(pixels):
        raise UserError(f"none of the held-out paintings is in {folder}")
    return bits_per_pixel(painting_nats(graph, pixels), pixels[..., 0].size), len(pixels)


def evaluate_paint(model_path: Path, folder: Path) -> dict:
    engine = InferenceEngine(Path(model_path).parent, prefer_gpu=False)
    try:
        graph = StepGraph(engine.load_file(Path(model_path)))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    extra = graph.model.metadata.extra
    paintings = load_paintings(folder, extra["size"])
    nats = painting_nats(graph, paintings.pixels)
    pixels = paintings.pixels[..., 0].size
    return {
        "n_images": len(paintings.names),
        "skipped_files": sum(paintings.skipped.values()),
        "pixels": int(pixels),
        "bits_per_pixel": round(bits_per_pixel(nats, pixels), 4),
        "nats_per_pixel": round(sum(nats.values()) / pixels, 4),
        "thumbnail_bits_per_pixel": round(nats["thumbnail"] / pixels / math.log(2), 4),
        "variant": extra["variant"],
        "colors": len(extra["palette"]),
    }


def main(args) -> None:
    print(json.dumps(evaluate_paint(args.model, args.data)))
