"""Each recipe job's data and model, built exactly as its `train` command builds them,
with a constant-rate optimizer (`recipe gpu` sets the rate per epoch)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from training.recipe.jobs import Job
from training.recipe.plan import (
    Measure,
)


@dataclass
class Prepared:
    job: Job
    model: keras.Model  # compiled, constant learning rate
    train: tuple  # (inputs, targets, sample weights or None)
    val: tuple
    batch_size: int
    learning_rate: float
    patience: int
    run: dict  # the run config `recipe ship` rebuilds the model from
    measure: Measure | None = None

    @property
    def parameters(self) -> int:
        return int(sum(np.prod(w.shape) for w in self.model.weights))


def parse(argv: list[str]) -> argparse.Namespace:
    """`argv` as `python -m training` reads it (a job is a `train KIND` command line)."""
    from bot.help_format import Parser
    from training.kinds import add_kinds

    parser = Parser(prog="python -m training")
    add_kinds(parser.add_subparsers(dest="action", required=True))
    return parser.parse_args(argv)


def rows(data) -> int:
    return len(data[0] if isinstance(data, list) else data)


def take(data, start: int, stop: int):
    if data is None:
        return None
    if isinstance(data, list):
        return [d[start:stop] for d in data]
    return data[start:stop]


def trimmed(part: tuple, batch: int) -> tuple:
    """Whole batches only (every step then has one shape: nothing recompiles); a part
    smaller than a batch is kept whole."""
    n = rows(part[0])
    keep = n // batch * batch if n >= batch else n
    return tuple(take(p, 0, keep) for p in part)


def _lm_optimizer(rate: float) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(rate, clipnorm=5.0)


def _sequence_loss() -> keras.losses.Loss:
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight"
    )


def lm_prepared(job: Job, args, config, train, val, info: dict) -> Prepared:
    """A language-model job (write, paint): windows of tokens, no sample weights."""
    from training.tokenlm.model import build_train_model

    model = build_train_model(config, optimizer=_lm_optimizer(args.learning_rate))
    run = {"config": config.as_dict(), **info}
    return Prepared(
        job, model, (train.x, train.y, None), (val.x, val.y, None), args.batch_size,
        args.learning_rate, args.patience, run,
    )  # fmt: skip


def setup_write(job: Job, args) -> Prepared:
    from training.tokenlm.corpus import windows
    from training.tokenlm.train import Examples
    from training.write import write_setup

    config, _, split, settings, info = write_setup(args)
    train = Examples(*windows(split.train, args.seq_len))
    val = Examples(*windows(split.val, args.seq_len))
    return lm_prepared(job, args, config, train, val, info)


def setup_paint(job: Job, args) -> Prepared:
    from training.paint.train import paint_setup

    config, train, val, settings, info = paint_setup(args)
    return lm_prepared(job, args, config, train, val, info)


def setup_color(job: Job, args) -> Prepared:
    from dataclasses import asdict

    from training.color.data import MAX_NAME_LENGTH
    from training.color.model import build_color_model
    from training.color.train import color_setup
    from training.runtime import hardware, training_command

    d = color_setup(args)
    model = build_color_model(d.variant, d.vocab.size, MAX_NAME_LENGTH)
    run = {
        "variant": asdict(d.variant),
        "vocabulary": d.vocab.tokens,
        "bins": d.bins,
        "mean_rgb": [float(v) for v in d.mean_rgb],
        "val_fraction": args.val_fraction,
        "seed": args.seed,
        "n_train": len(d.train),
        "batch_size": args.batch_size,
        "patience": args.patience,
        "training_command": training_command(),
        "hardware": hardware(),
    }
    rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    return Prepared(
        job, model, (d.x_train, d.y_train, None), (d.x_val, d.y_val, None), args.batch_size,
        rate, args.patience, run,
    )  # fmt: skip


def setup_name(job: Job, args) -> Prepared:
    from training.name.model import build_name_model
    from training.name.train import _data
    from training.runtime import hardware, training_command
    from training.tokenlm.train import lm_config

    table, train, val, vocab, examples, colors = _data(args.data, args.val_fraction)
    config = lm_config(vocab.size, args)
    model = build_name_model(config)
    model.compile(optimizer=_lm_optimizer(args.learning_rate), loss=_sequence_loss())
    run = {
        "config": config.as_dict(),
        "data": [str(p) for p in args.data],  # `recipe ship` points these at its data
        "val_fraction": args.val_fraction,
        "training_command": training_command(),
        "hardware": hardware(),
    }
    t, v = examples["train"], examples["val"]
    return Prepared(
        job, model, ([colors["train"], t.x], t.y, t.weights),
        ([colors["val"], v.x], v.y, v.weights), args.batch_size, args.learning_rate,
        args.patience, run,
    )  # fmt: skip


def setup_concepts(job: Job, args) -> Prepared:
    from training.caption.concept_lm import build_concept_lm, concept_setup

    config, info, (tv, te), (vv, ve) = concept_setup(args)
    model = build_concept_lm(config, len(info["concepts"]))
    model.compile(optimizer=_lm_optimizer(args.learning_rate), loss=_sequence_loss())
    return Prepared(
        job, model, ([tv, te.x], te.y, te.weights), ([vv, ve.x], ve.y, ve.weights),
        args.batch_size, args.learning_rate, args.patience, info,
    )  # fmt: skip


def prepare(job: Job, data_root: Path, scratch: Path, tiny: bool) -> Prepared:
    args = parse(job.train_argv(data_root, scratch / job.name, tiny))
    keras.utils.set_random_seed(args.seed)
    prepared = SETUPS[job.kind](job, args)
    prepared.train = trimmed(prepared.train, prepared.batch_size)
    prepared.val = trimmed(prepared.val, prepared.batch_size)
    return prepared


SETUPS: dict[str, Callable[[Job, object], Prepared]] = {
    "write": setup_write,
    "paint": setup_paint,
    "color": setup_color,
    "name": setup_name,
    "concepts": setup_concepts,
}
