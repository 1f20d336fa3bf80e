"""Generic language-model training: seq-to-seq windows, checkpoints, resume, samples.

Used by `train write` now and by the caption and paint pipelines, which only differ in
how they turn their data into token streams and what they put in the metadata.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np

from bot.runtime.lm import generate
from bot.runtime.sampling import SamplingConfig
from training.callbacks import standard_callbacks
from training.errors import UserError
from training.tokenlm.model import (
    LMConfig,
    build_step_model,
    build_train_model,
    copy_weights,
    copy_widened,
)

CONFIG_FILE = "config.json"
LAST_CHECKPOINT = "last.keras"
BEST_WEIGHTS = "best.weights.h5"


@dataclass
class TrainSettings:
    epochs: int = 30
    batch_size: int = 64
    seq_len: int = 100
    learning_rate: float = 2e-3
    patience: int = 4
    seed: int = 1
    sample_length: int = 200
    verbose: bool = True
    schedule: str = "constant"  # or "cosine": decays to zero over `epochs`
    weight_decay: float = 0.0  # decoupled (AdamW) when above zero
    ema: float = 0.0  # momentum of the weight average validated and kept (0: none)
    init_weights: str | None = None  # start from these weights (same configuration)


def make_optimizer(settings: TrainSettings, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam (AdamW with weight decay), gradients clipped at norm 5, with the run's schedule
    and, when `ema` is set, a moving average of the weights that validation and the
    checkpoints use (averaging late-training weights is a cheap regulariser)."""
    rate = settings.learning_rate
    if settings.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, settings.epochs * steps_per_epoch)
    elif settings.schedule != "constant":
        raise UserError(f"unknown schedule {settings.schedule!r} (constant or cosine)")
    average = {"use_ema": True, "ema_momentum": settings.ema} if settings.ema else {}
    if settings.weight_decay:
        return keras.optimizers.AdamW(
            rate, weight_decay=settings.weight_decay, clipnorm=5.0, **average
        )
    return keras.optimizers.Adam(rate, clipnorm=5.0, **average)


def lm_config(vocab_size: int, args) -> LMConfig:
    return LMConfig(vocab_size, args.embedding, args.units, args.layers, args.dropout)


def lm_settings(args, seq_len: int) -> TrainSettings:
    return TrainSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        seq_len=seq_len,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
        sample_length=args.sample_length,
        schedule=args.schedule,
        weight_decay=args.weight_decay,
        ema=args.ema,
        init_weights=str(args.init_weights) if args.init_weights else None,
    )


def run_info(
    vocab_tokens: list[str],
    data_sources: list[dict],
    split: dict,
    settings: TrainSettings,
    extra: dict,
) -> dict:
    """What export needs besides the weights; `extra` goes into the model's metadata."""
    from training.runtime import hardware, training_command

    return {
        "vocabulary": vocab_tokens,
        "data_sources": data_sources,
        "split": split,
        "settings": settings.__dict__,
        "training_command": training_command(),
        "hardware": hardware(),
        "extra": extra,
    }


class KerasStep:
    """Adapts a Keras step model to the bot's step-function interface (for samples)."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model

    def __call__(self, tokens, state):
        # predict_on_batch runs one compiled function: an eager call of a functional model
        # with an LSTM costs tens of milliseconds per token, which made samples dominate
        # the epoch time of small models.
        outputs = self.model.predict_on_batch([np.asarray(tokens, np.int32), *state])
        return outputs[0], list(outputs[1:])


def zero_state(config: LMConfig, batch: int = 1) -> list[np.ndarray]:
    return [np.zeros((batch, config.units), np.float32) for _ in range(2 * config.layers)]


class SamplePrinter(keras.callbacks.Callback):
    """Prints a few samples at several temperatures after each epoch, to watch it learn."""

    def __init__(
        self,
        config: LMConfig,
        prompt: list[int],
        decode: Callable,
        length: int,
        end_token: int | None = None,
    ) -> None:
        super().__init__()
        self.step_model = build_step_model(config)
        self.config = config
        self.prompt = prompt
        self.decode = decode
        self.length = length
        self.end_token = end_token

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        copy_weights(self.model, self.step_model)
        for temperature in (0.2, 0.5, 1.0):
            tokens = generate(
                KerasStep(self.step_model),
                zero_state(self.config),
                self.prompt,
                self.length,
                SamplingConfig(temperature),
                np.random.default_rng(epoch),
                end_token=self.end_token,
            )
            text = self.decode(list(tokens))
            print(f"--- epoch {epoch + 1}, temperature {temperature} ---\n{text}\n", flush=True)


def read_log(run_dir: Path) -> list[dict]:
    log = Path(run_dir) / "log.csv"
    if not log.exists():
        return []
    with log.open() as f:
        return list(csv.DictReader(f))


def completed_epochs(run_dir: Path) -> tuple[int, float]:
    """Epochs in the CSV log and the best val_loss so far (for resuming)."""
    rows = read_log(run_dir)
    return len(rows), min((float(r["val_loss"]) for r in rows), default=math.inf)


def metrics_from_log(run_dir: Path) -> dict:
    """Validation metrics of the best epoch, from the CSV log (so interrupted runs have them).

    `training_seconds` sums the epochs' own times across resumes; it is None for runs
    logged before epoch times were recorded.
    """
    rows = read_log(run_dir)
    if not rows:
        raise UserError(f"{run_dir} has no completed epoch in log.csv")
    losses = [float(r["val_loss"]) for r in rows]
    best = min(losses)
    seconds = [r.get("epoch_seconds") for r in rows]
    return {
        "val_nats_per_token": round(best, 4),
        "val_bits_per_token": round(best / math.log(2), 4),
        "train_nats_per_token": round(float(rows[losses.index(best)]["loss"]), 4),
        "epochs_run": len(rows),
        "best_epoch": losses.index(best) + 1,
        "training_seconds": round(sum(float(t) for t in seconds), 1) if all(seconds) else None,
    }


def adds_contexts(base: LMConfig, config: LMConfig) -> bool:
    """Whether `config` is `base` with more context inputs after base's own (dropout,
    which holds no weights, may differ)."""
    n = len(base.contexts)
    same = replace(config, contexts=config.contexts[:n], dropout=base.dropout)
    return len(config.contexts) > n and same == base


def weights_extra(weights: Path) -> dict | None:
    """What the model of a weights file was (its metadata's `extra`, `config` included):
    from its run's `config.json`, or from the exported `X.onnx` beside `X.weights.h5`."""
    run_config = weights.parent / CONFIG_FILE
    if weights.name == BEST_WEIGHTS and run_config.exists():
        info = json.loads(run_config.read_text())
        return {**info.get("extra", {}), "config": info["config"]}
    exported = weights.parent / weights.name.replace(".weights.h5", ".onnx")
    if weights.name.endswith(".weights.h5") and exported.exists():
        from bot.contract.metadata import ModelMetadata
        from bot.runtime.onnx_guard import metadata_props

        extra = ModelMetadata.from_props(metadata_props(exported.read_bytes())).extra
        return extra if "config" in extra else None
    return None


def start_from(model: keras.Model, weights: Path, config: LMConfig | None = None) -> None:
    """Load another run's weights (a `best.weights.h5` or an exported `*.weights.h5`) into
    a model of the same configuration, so training continues from them; given this
    model's `config`, also weights of the same model with fewer context inputs."""
    if not weights.exists():
        raise UserError(f"{weights} does not exist")
    extra = weights_extra(weights) if config else None
    base = LMConfig(**extra["config"]) if extra else None
    if base and adds_contexts(base, config):
        source = build_train_model(base)
        _load(source, weights)
        print(f"starting from {weights}: {', '.join(copy_widened(source, model))}")
        return
    _load(model, weights)


def _load(model: keras.Model, weights: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(weights)
    except ValueError as error:
        raise UserError(f"{weights} does not fit this model's configuration: {error}") from None


@dataclass
class Examples:
    """Inputs, next-token targets and optional per-position weights (0 = padding)."""

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None = None

    @property
    def tokens(self) -> int:
        return int(self.y.size if self.weights is None else self.weights.sum())


def train_lm(
    run_dir: Path,
    config: LMConfig,
    train: Examples,
    val: Examples,
    settings: TrainSettings,
    resume: bool,
    sample_prompt: list[int],
    decode: Callable[[list[int]], str],
    info: dict,
    sample_end: int | None = None,
    start: Callable[[keras.Model], None] | None = None,
) -> dict:
    """Fit, keeping `best.weights.h5`, `last.keras` (every epoch) and the log in `run_dir`.
    A new run's model gets its first weights from `start(model)` when given (fine-tuning)."""
    keras.utils.set_random_seed(settings.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_path = run_dir / CONFIG_FILE
    done, best = completed_epochs(run_dir) if resume else (0, math.inf)
    if resume:
        if not (run_dir / LAST_CHECKPOINT).exists():
            raise UserError(f"nothing to resume in {run_dir} (no {LAST_CHECKPOINT})")
        saved = json.loads(config_path.read_text())
        if saved["config"] != config.as_dict():
            raise UserError(f"{run_dir} was trained with another configuration: {saved['config']}")
        model = keras.models.load_model(run_dir / LAST_CHECKPOINT)
        print(f"resuming after epoch {done} (best val_loss {best:.4f})")
    else:
        steps = math.ceil(len(train.y) / settings.batch_size)
        model = build_train_model(config, optimizer=make_optimizer(settings, steps))
        if settings.init_weights:
            start_from(model, Path(settings.init_weights), config)
        if start is not None:
            start(model)
    config_path.write_text(json.dumps({"config": config.as_dict(), **info}, indent=2))

    print(
        f"{train.tokens:,} training tokens in {len(train.y):,} sequences; "
        f"{val.tokens:,} validation tokens"
    )
    callbacks = standard_callbacks(
        run_dir, "language model", settings.patience, ylabel="nats per token", resume=resume
    )
    for callback in callbacks:  # a resumed run keeps the best checkpoint it already had
        if isinstance(callback, keras.callbacks.ModelCheckpoint):
            callback.best = best
    callbacks.append(keras.callbacks.ModelCheckpoint(run_dir / LAST_CHECKPOINT))
    if settings.ema:  # validate and checkpoint the averaged weights: swap them in first
        callbacks.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if settings.sample_length:
        callbacks.append(
            SamplePrinter(config, sample_prompt, decode, settings.sample_length, sample_end)
        )
    model.fit(
        train.x,
        train.y,
        sample_weight=train.weights,
        validation_data=(val.x, val.y, val.weights) if val.weights is not None else (val.x, val.y),
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        initial_epoch=done,
        shuffle=True,
        callbacks=callbacks,
        verbose=2 if settings.verbose else 0,
    )
    return metrics_from_log(run_dir)
