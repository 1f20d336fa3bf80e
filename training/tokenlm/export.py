"""Export a trained language model as a single-step ONNX graph with explicit state."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from bot.contract.metadata import ModelMetadata
from bot.contract.signatures import CHARLM
from training.errors import UserError
from training.tokenlm.model import (
    LMConfig,
    build_step_model,
    build_train_model,
    context_names,
    copy_weights,
    state_names,
)
from training.tokenlm.train import BEST_WEIGHTS, CONFIG_FILE


def load_run(
    run_dir: Path, build: Callable[[LMConfig, dict], keras.Model] | None = None
) -> tuple[dict, LMConfig, keras.Model]:
    """The run's saved info, its config, and the training model with the best weights;
    `build(config, info)` makes the model they belong to (default: the plain LM)."""
    run_dir = Path(run_dir)
    try:
        info = json.loads((run_dir / CONFIG_FILE).read_text())
    except FileNotFoundError:
        raise UserError(f"{run_dir} is not a training run (no {CONFIG_FILE})") from None
    if not (run_dir / BEST_WEIGHTS).exists():
        raise UserError(f"{run_dir} has no {BEST_WEIGHTS} yet (train at least one epoch)")
    config = LMConfig(**info["config"])
    model = build(config, info) if build else build_train_model(config)
    with warnings.catch_warnings():  # the optimizer state in the file is not needed here
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(run_dir / BEST_WEIGHTS)
    return info, config, model


def slim_run(run_dir: Path) -> Path:
    """Write the best weights without optimizer state (a third of the size) for transfer."""
    _, _, model = load_run(Path(run_dir))
    path = Path(run_dir) / "best.slim.weights.h5"
    model.save_weights(path)
    return path


def state_layout(config: LMConfig) -> list[dict]:
    return [{"input": i, "output": o, "size": config.units} for i, o in state_names(config)]


def export_lm(
    train_model: keras.Model,
    config: LMConfig,
    metadata: ModelMetadata,
    out: Path,
    parity_tokens: np.ndarray,
) -> float:
    """Write the step graph if it reproduces the sequence model's logits within 1e-4.

    The check feeds `parity_tokens` (100 of them, with random context values when the
    model has context inputs) to the Keras sequence model in one call and to onnxruntime
    one token at a time, carrying the state between calls.
    """
    if keras.backend.backend() != "tensorflow":
        raise UserError("ONNX export needs KERAS_BACKEND=tensorflow (train anywhere, export here)")
    import tensorflow as tf

    from training.onnx_export import attach_metadata, convert, write_checked

    step_model = build_step_model(config)
    copy_weights(train_model, step_model)
    names = state_names(config)
    contexts = context_names(config)
    spec = (
        [tf.TensorSpec([None], tf.int32, name="tokens")]
        + [tf.TensorSpec([None], tf.int32, name=c) for c in contexts]
        + [tf.TensorSpec([None, config.units], tf.float32, name=i) for i, _ in names]
    )

    @tf.function(input_signature=spec)
    def step(*inputs):
        logits, *new_states = step_model(list(inputs), training=False)
        return {"logits": logits, **{o: s for (_, o), s in zip(names, new_states, strict=True)}}

    with tf.device("/CPU:0"):  # a plain LSTM graph, never the cuDNN kernel tf2onnx can't read
        proto = convert(step, spec)
    metadata.extra["state"] = state_layout(config)
    metadata.extra["config"] = config.as_dict()
    metadata.extra.setdefault("contexts", [])
    for entry, name, size in zip(
        metadata.extra["contexts"], contexts, config.contexts, strict=True
    ):
        entry.update(input=name, size=size)
    attach_metadata(proto, metadata)
    rng = np.random.default_rng(1)
    sequence = [parity_tokens] + [
        rng.integers(0, n, len(parity_tokens)).astype(np.int32) for n in config.contexts
    ]
    batch = [a[None] for a in sequence]
    expected = keras.ops.convert_to_numpy(
        train_model(batch if contexts else batch[0], training=False)
    )[0]

    def parity(session) -> float:
        feeds = {i: np.zeros((1, config.units), np.float32) for i, _ in names}
        worst = 0.0
        for position in range(len(parity_tokens)):
            feeds["tokens"] = sequence[0][position : position + 1]
            feeds.update(
                {c: a[position : position + 1] for c, a in zip(contexts, sequence[1:], strict=True)}
            )
            outputs = dict(
                zip([o.name for o in session.get_outputs()], session.run(None, feeds), strict=True)
            )
            worst = max(worst, float(np.abs(outputs["logits"][0] - expected[position]).max()))
            feeds.update({i: outputs[o] for i, o in names})
        return worst

    difference = write_checked(proto, out, parity)
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), step-vs-sequence parity "
        f"max |diff| = {difference:.2g} over {len(parity_tokens)} tokens"
    )
    return difference


def export_with_info(
    model: keras.Model,
    config: LMConfig,
    info: dict,
    metrics: dict,
    out: Path,
    command: str,
    extra: dict,
) -> float:
    """Export with the metadata every language-model task shares (`info` from the run)."""
    from training.runtime import utc_now

    metadata = ModelMetadata(
        kind=CHARLM,
        vocabulary=info["vocabulary"],
        max_length=0,
        metrics=metrics,
        data_sources=info["data_sources"],
        training_command=command,
        trained_at=utc_now(),
        extra=extra,
    )
    tokens = np.random.default_rng(0).integers(0, config.vocab_size, 100).astype(np.int32)
    return export_lm(model, config, metadata, Path(out), tokens)


def export_run(run_dir: Path, out: Path) -> float:
    """Export a finished (or interrupted) run with the metadata its task recorded."""
    from training.tokenlm.train import metrics_from_log

    info, config, model = load_run(Path(run_dir))
    metrics = metrics_from_log(Path(run_dir))
    metrics["hardware"] = info["hardware"]
    extra = {**info["extra"], "split": info["split"], "settings": info["settings"]}
    return export_with_info(model, config, info, metrics, out, info["training_command"], extra)


def export_main(args) -> None:
    export_run(args.run_dir, args.out)
