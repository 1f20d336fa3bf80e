"""Paint one 64x64 picture two ways with the same weights; print both times and the ratio.

- tutorial: Keras `predict` on a window of the last 256 pixels (with their context
  inputs), one call per pixel, as the pixel-RNN tutorials do;
- step: the exported single-step ONNX graph through the bot's PaintService.

The tutorial method takes minutes for a whole picture, so it paints --tutorial-pixels
pixels (default 256) and the full-picture time is extrapolated linearly: said in the output.
Usage: python bench/paint_speed.py [--tutorial-pixels 256]   (needs the `train` extra)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bot.contract.pixels import context_at, context_kinds, stream_length  # noqa: E402
from bot.paint.service import PaintRequest, PaintService  # noqa: E402
from bot.runtime.batching import BatcherPool  # noqa: E402
from bot.runtime.engine import InferenceEngine  # noqa: E402
from bot.runtime.sampling import SamplingConfig, sample  # noqa: E402

MODELS = ROOT / "exported_models"
WINDOW = 256


def tutorial_paint(pixels: int, seed: int) -> float:
    """Seconds for `pixels` pixels painted by re-running the sequence model on a window."""
    from training.tokenlm.model import LMConfig, build_train_model

    meta = InferenceEngine(MODELS, prefer_gpu=False).load_file(MODELS / "monet.onnx").metadata
    extra = meta.extra
    model = build_train_model(LMConfig(**extra["config"]))
    model.load_weights(MODELS / "monet.weights.h5")
    size, k = extra["size"], extra["start_token"]
    kinds = context_kinds(extra["contexts"])
    grid = int(extra.get("thumbnail", 0))  # a thumbnail's tokens come first
    uses_context = bool(kinds)
    canvas = np.zeros(stream_length(size, grid), np.int32)
    rng = np.random.default_rng(seed)
    config = SamplingConfig(1.0)

    def window(t: int) -> list[np.ndarray]:
        lo = max(0, t - WINDOW + 1)
        positions = np.arange(lo, t + 1)
        previous = np.where(positions > 0, canvas[positions - 1], k)
        painted = canvas.tolist()
        contexts = [context_at(painted[:p], size, k, kinds, grid) for p in positions]
        return [previous[None], *(np.array(c, np.int32)[None] for c in zip(*contexts, strict=True))]

    model.predict(window(0), verbose=0)  # warm-up, not timed
    started = time.perf_counter()
    for t in range(pixels):
        inputs = window(t)
        logits = model.predict(inputs if uses_context else inputs[0], verbose=0)[0, -1]
        logits[k] = -np.inf
        canvas[t] = sample(logits, config, rng)
    return time.perf_counter() - started


def step_paint(seed: int) -> tuple[float, int, int]:
    """Seconds for one whole painting on the step graph, its size and its steps (the
    pixels, and a thumbnail's cells if the painter sketches one first)."""
    engine = InferenceEngine(MODELS, prefer_gpu=False)
    engine.load_all()
    service = PaintService(engine, BatcherPool())
    service.paint(PaintRequest(seed=seed + 1))  # warm-up, not timed
    result = service.paint(PaintRequest(seed=seed))
    return result.seconds, result.size, service.painter(result.size).steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tutorial-pixels", type=int, default=256)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="the quickest run: 16 tutorial pixels")
    args = parser.parse_args()
    if args.smoke:
        args.tutorial_pixels = 16
    step_seconds, size, total = step_paint(args.seed)
    print(f"step      {total} steps in {step_seconds:8.3f} s ({total / step_seconds:8.0f} steps/s)")
    seconds = tutorial_paint(args.tutorial_pixels, args.seed)
    estimate = seconds / args.tutorial_pixels * total
    print(
        f"tutorial  {args.tutorial_pixels} steps in {seconds:8.3f} s "
        f"({args.tutorial_pixels / seconds:8.1f} steps/s); whole {size}x{size} picture "
        f"({total} steps) extrapolated: {estimate:,.0f} s"
    )
    print(f"ratio tutorial/step (per step): {estimate / step_seconds:.0f}x")


if __name__ == "__main__":
    main()
