"""Generate 500 characters two ways with the same trained weights and print the ratio.

- tutorial: the Keras sequence model's `predict` on a sliding 100-character window, one
  call per character (the method of the Keras text-generation tutorials);
- step: the exported single-step ONNX graph with explicit state, one small call per
  character, through the bot's own WriteService.

When the style is a mixture (`ensemble write`), the step side runs every member and the
tutorial side only the first (the weights beside the file), so the ratio understates.

Usage: python bench/write_speed.py [--chars 500] [--method both|tutorial|step]
Needs the `train` extra (TensorFlow) for the tutorial method.
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

from bot.runtime.batching import BatcherPool  # noqa: E402
from bot.runtime.engine import InferenceEngine  # noqa: E402
from bot.runtime.sampling import SamplingConfig, sample  # noqa: E402
from bot.text.vocabulary import Vocabulary  # noqa: E402
from bot.write.service import WriteRequest, WriteService  # noqa: E402

MODELS = ROOT / "exported_models"
PROMPT = "ROMEO:\nI will not stay; for he that knows me well\nWill say my grief is more than I can"


def tutorial_generate(chars: int, seed: int, window: int = 100) -> tuple[str, float]:
    from training.tokenlm.model import LMConfig, build_train_model

    engine = InferenceEngine(MODELS, prefer_gpu=False)
    meta = engine.load_file(MODELS / "shakespeare.onnx").metadata
    members = meta.extra.get("ensemble", {}).get("members")
    if members:  # shakespeare.weights.h5 holds the first member's weights only
        print(f"the style mixes {len(members)} models; the tutorial side runs member 0 alone")
    model = build_train_model(LMConfig(**(members[0] if members else meta.extra)["config"]))
    model.load_weights(MODELS / "shakespeare.weights.h5")
    vocab = Vocabulary(meta.vocabulary)
    ids = vocab.encode(PROMPT).ids.tolist()
    rng = np.random.default_rng(seed)
    config = SamplingConfig(0.8)
    model.predict(np.array([ids[-window:]], np.int32), verbose=0)  # warm-up, not timed
    started = time.perf_counter()
    for _ in range(chars):
        logits = model.predict(np.array([ids[-window:]], np.int32), verbose=0)[0, -1]
        ids.append(sample(logits, config, rng))
    seconds = time.perf_counter() - started
    return vocab.decode(ids), seconds


def step_generate(chars: int, seed: int) -> tuple[str, float]:
    engine = InferenceEngine(MODELS, prefer_gpu=False)
    engine.load_all()
    service = WriteService(engine, BatcherPool())
    service.write(WriteRequest("shakespeare", PROMPT, 50, 0.8, seed))  # warm-up, not timed
    result = service.write(WriteRequest("shakespeare", PROMPT, chars, 0.8, seed))
    return result.text, result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--method", choices=["both", "tutorial", "step"], default="both")
    parser.add_argument("--smoke", action="store_true", help="the quickest run: 50 characters")
    args = parser.parse_args()
    if args.smoke:
        args.chars = 50
    times = {}
    for method, run in (("step", step_generate), ("tutorial", tutorial_generate)):
        if args.method in ("both", method):
            text, seconds = run(args.chars, args.seed)
            times[method] = seconds
            print(
                f"{method:9s} {args.chars} chars in {seconds:8.3f} s "
                f"({args.chars / seconds:9.1f} chars/s)  ...{text[-60:]!r}"
            )
    if len(times) == 2:
        print(f"ratio tutorial/step: {times['tutorial'] / times['step']:.0f}x")


if __name__ == "__main__":
    main()
