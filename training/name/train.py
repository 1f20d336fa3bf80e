"""`train name`: colour -> invented name, on the colour lists and their split.

The names and colours are the cleaned lists of `/color` (the same files, the same
split by a hash of the name), so `/name` never learns a held-out name and `/color`
can check the round trip on names neither model saw.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from bot.name.service import color_input
from bot.text.captions import END, START
from bot.text.vocabulary import Vocabulary
from training.callbacks import standard_callbacks
from training.caption.data import caption_examples
from training.caption.image_train import nats
from training.color.data import MAX_NAME_LENGTH, load_colors, split
from training.data_report import print_dropped
from training.errors import UserError
from training.name.model import build_name_model
from training.runtime import hardware, training_command
from training.tokenlm.export import load_run
from training.tokenlm.model import LMConfig
from training.tokenlm.train import (
    BEST_WEIGHTS,
    CONFIG_FILE,
    completed_epochs,
    lm_config,
    metrics_from_log,
)


def name_vocabulary(names: list[str]) -> Vocabulary:
    return Vocabulary([START, END, *sorted({c for n in names for c in n})])


def _data(args_data: list[Path], val_fraction: float):
    table = load_colors(args_data)
    train, val = split(table, val_fraction)
    vocab = name_vocabulary(table.names)
    examples = {
        part: caption_examples(vocab, rows.names, MAX_NAME_LENGTH)
        for part, rows in (("train", train), ("val", val))
    }
    colors = {"train": color_input(train.rgb), "val": color_input(val.rgb)}
    return table, train, val, vocab, examples, colors


def held_out(model: keras.Model, examples, colors) -> dict:
    """Does the colour help? The same held-out names under a shuffled colour."""
    other = np.roll(colors["val"], 1, axis=0)
    return {
        "val_nats_per_char": round(nats(model, colors["val"], examples["val"]), 4),
        "val_nats_per_char_other_color": round(nats(model, other, examples["val"]), 4),
    }


def load_name_run(run_dir: Path) -> tuple[dict, LMConfig, keras.Model]:
    """The run's saved settings, its config and the model with the best weights."""
    return load_run(run_dir, lambda config, _: build_name_model(config))


def train_name(args) -> None:
    keras.utils.set_random_seed(args.seed)
    table, train, val, vocab, examples, colors = _data(args.data, args.val_fraction)
    print_dropped(table.sources, table.dropped, "rows")
    config = lm_config(vocab.size, args)
    print(f"{len(train):,} training and {len(val):,} validation names; {vocab.size} tokens")
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    saved = {
        "config": config.as_dict(),
        "data": [str(p) for p in args.data],
        "val_fraction": args.val_fraction,
        "training_command": training_command(),
        "hardware": hardware(),
    }
    model = build_name_model(config)
    done = completed_epochs(run_dir)[0] if args.resume else 0
    if done:
        saved = json.loads((run_dir / CONFIG_FILE).read_text())
        model.load_weights(run_dir / BEST_WEIGHTS)  # the best, not the last (Adam restarts)
        print(f"resumed after epoch {done}")
    (run_dir / CONFIG_FILE).write_text(json.dumps(saved, indent=1))
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )
    model.fit(
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
        initial_epoch=done,
        verbose=2,
        callbacks=standard_callbacks(
            run_dir, "colour -> name", args.patience, "nats per char", resume=bool(done)
        ),
    )
    if args.out:
        export_run(run_dir, Path(args.out))


def export_run(run_dir: Path, out: Path) -> dict:
    """Score the run's best weights on the held-out names and export them."""
    from training.name.export import export_name

    saved, config, model = load_name_run(run_dir)
    table, train, val, vocab, examples, colors = _data(
        [Path(p) for p in saved["data"]], saved["val_fraction"]
    )
    if vocab.tokens != name_vocabulary(table.names).tokens or vocab.size != config.vocab_size:
        raise UserError("the colour lists changed since training: the vocabulary differs")
    log = metrics_from_log(run_dir)
    metrics = {
        **held_out(model, examples, colors),
        "epochs_run": log["epochs_run"],
        "best_epoch": log["best_epoch"],
        "train_names": len(train),
        "val_names": len(val),
        "training_seconds": log["training_seconds"],
        "hardware": saved["hardware"],
    }
    print(json.dumps(metrics))
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    info = {
        "vocabulary": vocab.tokens,
        "data_sources": table.sources,
        "training_command": saved["training_command"],
        "known_names": table.names,
        "val_fraction": saved["val_fraction"],
    }
    export_name(model, config, info, metrics, out)
    return metrics


def export_main(args) -> None:
    export_run(Path(args.run_dir), Path(args.out))
