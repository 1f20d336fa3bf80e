"""`python -m training evaluate color`: score an exported model on a colour CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot.color.service import ColorModel
from bot.runtime.engine import InferenceEngine
from training.color.data import load_colors, split
from training.color.metrics import color_metrics


def bin_probabilities(model: ColorModel, names: list[str], batch_size: int = 1024) -> np.ndarray:
    """The bins model's distributions (n, bins) for many names, a batch at a time, as the
    bot reads them (its own encoder), so the card and the benches decode what users get."""
    return np.concatenate(
        [model.raw(names[i : i + batch_size]) for i in range(0, len(names), batch_size)]
    )


def evaluate_color(
    model_path: Path, data: list[Path], val_fraction: float | None = None, batch_size: int = 1024
) -> dict:
    """Scores the ONNX file through the bot's own encoder, so this is what users get.

    The baseline answers the mean colour of the model's training set (from its metadata),
    not of this file, since a real predictor never sees the test colours.
    """
    engine = InferenceEngine(Path(model_path).parent, prefer_gpu=False)
    try:
        model = ColorModel(engine.load_file(Path(model_path)))
    except ValueError as exc:
        from training.errors import UserError

        raise UserError(str(exc)) from None
    table = load_colors(data)
    if val_fraction:
        # The names training held out (a hash of the name): side by side with any model.
        table = split(table, val_fraction)[1]
    unknown = sum(1 for n in table.names if any(c not in model.vocabulary for c in n))
    pred = np.concatenate(
        [model.predict(table.names[i : i + batch_size]) for i in range(0, len(table), batch_size)]
    )
    mean_rgb = np.asarray(model.model.metadata.extra["mean_rgb"])
    metrics = color_metrics(table.rgb, pred, mean_rgb)
    metrics["names_with_unknown_characters"] = unknown
    metrics["dropped_rows"] = sum(table.dropped.values())
    return metrics


def main(args) -> None:
    print(json.dumps(evaluate_color(args.model, args.data, args.val_fraction)))
