"""`train name`: colour -> invented name, on the colour lists and their split.

The names and colours are the cleaned lists of `/color` (the same files, the same
split by a hash of the name), so `/name` never learns a held-out name and `/color`
can check the round trip on names neither model saw.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np

from bot.caption.tokens import END, START
from bot.colors.lab import srgb_to_lab
from bot.vocabulary import Vocabulary
from training.callbacks import standard_callbacks
from training.caption.data import caption_examples
from training.caption.image_train import nats
from training.charlm.train import lm_config
from training.color.data import MAX_NAME_LENGTH, load_colors, split
from training.data_report import print_dropped
from training.name.model import build_name_model
from training.runtime import hardware, training_command


def lab_inputs(rgb: np.ndarray) -> np.ndarray:
    """uint8 colours (n, 3) -> L*a*b* / 100, what the model reads (also in the bot)."""
    return (srgb_to_lab(rgb / 255.0) / 100.0).astype(np.float32)


def name_vocabulary(names: list[str]) -> Vocabulary:
    return Vocabulary([START, END, *sorted({c for n in names for c in n})])


def train_name(args) -> None:
    keras.utils.set_random_seed(args.seed)
    table = load_colors(args.data)
    print_dropped(table.sources, table.dropped, "rows")
    train, val = split(table, args.val_fraction)
    vocab = name_vocabulary(table.names)
    config = lm_config(vocab.size, args)
    print(f"{len(train):,} training and {len(val):,} validation names; {vocab.size} tokens")
    examples = {
        part: caption_examples(vocab, rows.names, MAX_NAME_LENGTH)
        for part, rows in (("train", train), ("val", val))
    }
    colors = {"train": lab_inputs(train.rgb), "val": lab_inputs(val.rgb)}
    model = build_name_model(config)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )
    run_dir = Path(args.run_dir)
    started = time.perf_counter()
    history = model.fit(
        [colors["train"], examples["train"].x],
        examples["train"].y,
        sample_weight=examples["train"].weights,
        validation_data=(
            [colors["val"], examples["val"].x],
            examples["val"].y,
            examples["val"].weights,
        ),
        batch_size=args.batch_size,
        epochs=args.epochs,
        verbose=2,
        callbacks=standard_callbacks(run_dir, "colour -> name", args.patience, "nats per char"),
    )
    losses = history.history["val_loss"]
    # Does the colour help? The same held-out names under a shuffled colour.
    other = np.roll(colors["val"], 1, axis=0)
    metrics = {
        "val_nats_per_char": round(nats(model, colors["val"], examples["val"]), 4),
        "val_nats_per_char_other_color": round(nats(model, other, examples["val"]), 4),
        "epochs_run": len(losses),
        "best_epoch": int(np.argmin(losses)) + 1,
        "train_names": len(train),
        "val_names": len(val),
        "training_seconds": round(time.perf_counter() - started, 1),
        "hardware": hardware(),
    }
    print(json.dumps(metrics))
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    if args.out:
        from training.name.export import export_name

        info = {
            "vocabulary": vocab.tokens,
            "data_sources": table.sources,
            "training_command": training_command(),
            "known_names": table.names,
            "val_fraction": args.val_fraction,
        }
        export_name(model, config, info, metrics, Path(args.out))
