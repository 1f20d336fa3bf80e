"""`finetune color`: refit a trained colour model on an admin's own `name,hex` list.

The weights come from the exported file itself (its native-LSTM graph holds them all), so
any shipped or refitted `color.onnx` can be a base. The vocabulary is the base's plus the
list's new characters (appended, so old ids keep their rows; a new character's embedding
starts as the average). The bins, the variant and the decoding stay the base's. Names of
the list are held out by a salted hash (independent of the base's own split, so a list of
names the base never saw splits fairly), training stops early on them, and the report
puts the refit beside the base on those held-out names. The list's names join the known
names (the list wins where it disagrees), so they are answered exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from bot.color.bins import ColorBins
from bot.color.service import encode_names
from bot.contract.metadata import ModelMetadata
from bot.render import hex_color
from bot.text.vocabulary import Vocabulary
from training.color.bins import soft_targets
from training.color.data import ColorTable, load_colors, split
from training.color.export import _read_color_file, load_onnx_weights
from training.color.metrics import color_metrics
from training.color.model import build_color_model
from training.color.train import export_color, fit_color
from training.data_report import print_dropped
from training.errors import UserError
from training.finetune import extend_into, file_digest
from training.runtime import training_command, utc_now

SPLIT_SALT = "refit:"
MIN_HELD_OUT = 20  # held-out names below which a refit's report would mean nothing


def finetune_color(args) -> dict:
    keras.utils.set_random_seed(args.seed)
    proto, metadata, variant = _read_color_file(Path(args.base))
    if "bins" not in metadata.extra:
        raise UserError(f"{args.base} predicts one colour, not bins; refit a bins model")
    table = load_colors(args.data)
    print_dropped(table.sources, table.dropped, "rows")
    train, val = split(table, args.val_fraction, SPLIT_SALT)
    if len(val) < MIN_HELD_OUT:
        raise UserError(
            f"{len(table)} usable names hold out only {len(val)} (need {MIN_HELD_OUT}); "
            "give a longer list or a larger --val-fraction"
        )
    print(f"split: {len(train)} train / {len(val)} held-out names")

    old = Vocabulary(metadata.vocabulary, offset=1)
    new_chars = sorted({c for n in table.names for c in n} - set(old.tokens))
    vocab = Vocabulary(old.tokens + new_chars, offset=1)
    base = build_color_model(variant, old.size, metadata.max_length)
    load_onnx_weights(base, variant, proto)
    model = build_color_model(variant, vocab.size, metadata.max_length)
    extend_into(model, base, old.size)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss=model.loss)

    decoder = ColorBins(metadata.extra["bins"])
    chars = lambda t: encode_names(vocab, t.names, metadata.max_length, left_pad=False)  # noqa: E731
    x_train, x_val = chars(train), chars(val)
    y_train, y_val = soft_targets(train.rgb, decoder.rgb), soft_targets(val.rgb, decoder.rgb)
    mean_rgb = np.asarray(metadata.extra["mean_rgb"])

    def score() -> dict:
        predicted = model.predict(x_val, verbose=0)
        return color_metrics(val.rgb, decoder.answers(predicted), mean_rgb)

    before = score()
    print("base on the held-out names: " + json.dumps(before))

    run = fit_color(model, (x_train, y_train), (x_val, y_val), args, "colour refit")
    metrics = score()
    metrics.update(variant=variant.name, base_on_held_out=before, n_train=len(train), **run)
    print(json.dumps(metrics))
    (Path(args.run_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if args.out:
        refit_metadata(metadata, vocab, table, args, metrics, new_chars)
        export_color(model, variant, metadata, Path(args.out), x_val[:256])
    return metrics


def refit_metadata(
    metadata: ModelMetadata,
    vocab: Vocabulary,
    table: ColorTable,
    args,
    metrics: dict,
    new_chars: list[str],
) -> None:
    """The base's metadata, updated in place to describe the refit."""
    base = {
        "source": str(args.base),
        "trained_at": metadata.trained_at,
        "training_command": metadata.training_command,
    }
    known = dict(metadata.extra.get("known_colors", {}))
    for name, rgb in zip(table.names, table.rgb, strict=True):
        known[name] = hex_color(tuple(int(c) for c in rgb))
    refit_sources = [
        {**source, **file_digest(path), "refit": True}
        for source, path in zip(table.sources, args.data, strict=True)
    ]
    metadata.vocabulary = vocab.tokens
    metadata.metrics = metrics
    metadata.data_sources = [*metadata.data_sources, *refit_sources]
    metadata.training_command = training_command()
    metadata.trained_at = utc_now()
    metadata.extra.update(known_colors=known, base_model=base, new_characters=new_chars)
