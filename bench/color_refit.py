"""Refitting the colour model on a list versus training one from scratch on it.

Both see the same names of the list (`training.color.finetune`'s salted split) and are
scored on the same held-out names as the bot decodes them; the model from scratch trains
for at least the refit's wall time. Prints CIEDE2000 mean and median and the chroma ratio
of the base as it is, the refit, and the model from scratch.

Usage: python bench/color_refit.py --base exported_models/color.onnx --data LIST.csv
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from bot.color.bins import ColorBins  # noqa: E402
from bot.color.service import encode_names  # noqa: E402
from bot.text.vocabulary import Vocabulary  # noqa: E402
from training.color.bins import soft_targets  # noqa: E402
from training.color.data import load_colors, split  # noqa: E402
from training.color.export import _read_color_file  # noqa: E402
from training.color.finetune import SPLIT_SALT, finetune_color  # noqa: E402
from training.color.metrics import color_metrics  # noqa: E402
from training.color.model import build_color_model  # noqa: E402


def from_scratch(base: Path, data: list[Path], val_fraction: float, seconds: float) -> dict:
    """The base's variant and bins, new weights, trained on the list for `seconds`."""
    _, metadata, variant = _read_color_file(base)
    train, val = split(load_colors(data), val_fraction, SPLIT_SALT)
    vocab = Vocabulary.from_texts(train.names + val.names, offset=1)
    decoder = ColorBins(metadata.extra["bins"])
    chars = lambda t: encode_names(vocab, t.names, metadata.max_length, left_pad=False)  # noqa: E731
    model = build_color_model(variant, vocab.size, metadata.max_length)
    x_train, x_val = chars(train), chars(val)
    y_train, y_val = soft_targets(train.rgb, decoder.rgb), soft_targets(val.rgb, decoder.rgb)
    best, best_loss, started, epochs = None, np.inf, time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        model.fit(x_train, y_train, batch_size=32, epochs=1, verbose=0)
        epochs += 1
        loss = model.evaluate(x_val, y_val, verbose=0)
        if loss < best_loss:  # keep the best epoch, as the refit's early stopping does
            best, best_loss = model.get_weights(), loss
    model.set_weights(best)
    predicted = decoder.answers(model.predict(x_val, verbose=0))
    metrics = color_metrics(val.rgb, predicted, np.asarray(metadata.extra["mean_rgb"]))
    metrics.update(epochs_run=epochs, training_seconds=round(time.perf_counter() - started, 1))
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, default=ROOT / "exported_models" / "color.onnx")
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "bench_color_refit")
    parser.add_argument("--smoke", action="store_true", help="the quickest run: one epoch each")
    args = parser.parse_args()
    if args.smoke:
        args.epochs = 1
    keras.utils.set_random_seed(1)
    refit = finetune_color(
        SimpleNamespace(
            base=args.base,
            data=args.data,
            val_fraction=args.val_fraction,
            learning_rate=3e-4,
            batch_size=32,
            epochs=args.epochs,
            patience=3,
            seed=1,
            run_dir=args.run_dir,
            out=None,
            verbose=False,
        )
    )
    scratch = from_scratch(args.base, args.data, args.val_fraction, refit["training_seconds"])
    rows = {"base as it is": refit["base_on_held_out"], "refit": refit, "from scratch": scratch}
    print(f"{refit['n']} held-out names of the list, {refit['n_train']} to train on")
    print(f"{'model':<15} {'dE mean':>8} {'median':>8} {'chroma':>7} {'epochs':>7} {'seconds':>8}")
    for label, m in rows.items():
        epochs, seconds = m.get("epochs_run", ""), m.get("training_seconds", "")
        print(
            f"{label:<15} {m['delta_e_mean']:>8.2f} {m['delta_e_median']:>8.2f} "
            f"{m['chroma_ratio']:>7.2f} {epochs!s:>7} {seconds!s:>8}"
        )


if __name__ == "__main__":
    main()
