"""`python -m training train color`: fit a variant, report validation CIEDE2000, export ONNX."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import onnx

from bot.color.bins import ColorBins
from bot.color.service import encode_names
from bot.contract.metadata import ModelMetadata
from bot.contract.signatures import COLOR
from bot.render import hex_color
from bot.text.vocabulary import Vocabulary
from training.callbacks import standard_callbacks
from training.color.bins import fit_bins, soft_targets
from training.color.data import MAX_NAME_LENGTH, ColorTable, load_colors, split
from training.color.metrics import color_metrics
from training.color.model import build_color_model, output_name
from training.color.onnx_graph import color_graph, supports_native
from training.color.variants import VARIANTS, ColorVariant
from training.data_report import print_dropped
from training.onnx_export import attach_metadata, write_checked
from training.runtime import hardware, training_command, utc_now


def encode(vocab: Vocabulary, names: list[str], variant: ColorVariant) -> np.ndarray:
    return encode_names(vocab, names, MAX_NAME_LENGTH, variant.padding == "left")


def fit_color(model: keras.Model, train: tuple, val: tuple, args, title: str) -> dict:
    """Fit with the standard callbacks in `args.run_dir` (the model ends with its best
    epoch's weights); returns the run's facts for its metrics."""
    started = time.perf_counter()
    history = model.fit(
        *train,
        validation_data=val,
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=2 if args.verbose else 0,
        callbacks=standard_callbacks(Path(args.run_dir), title, args.patience),
    )
    losses = history.history["val_loss"]
    return {
        "epochs_run": len(losses),
        "best_epoch": int(np.argmin(losses)) + 1,
        "training_seconds": round(time.perf_counter() - started, 1),
        "hardware": hardware(),
    }


@dataclass
class ColorData:
    """The lists as `train color` fits them: names split by a hash, encoded, with targets."""

    variant: ColorVariant
    table: ColorTable
    train: ColorTable
    val: ColorTable
    vocab: Vocabulary
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    mean_rgb: np.ndarray
    bins: list[str] | None


def color_setup(args) -> ColorData:
    """Read, split and encode the lists of `train color`'s arguments (also `recipe`'s)."""
    variant = VARIANTS[args.variant]
    print(f"reading {len(args.data)} file(s)")
    table = load_colors(args.data)
    print_dropped(table.sources, table.dropped, "rows")
    print(f"  kept {len(table):,} names")
    train, val = split(table, args.val_fraction)
    if args.train_only:
        # Restrict training names (not the validation set) to some lists: the same split
        # then compares data sets fairly.
        allowed = set(load_colors(args.train_only).names)
        keep = np.array([n in allowed for n in train.names])
        train = ColorTable(
            [n for n, k in zip(train.names, keep, strict=True) if k], train.rgb[keep]
        )
    print(
        f"split: {len(train)} train / {len(val)} validation names "
        f"(hash of name, {args.val_fraction:.0%})"
    )
    vocab = Vocabulary.from_texts(table.names, offset=1)
    x_train, x_val = encode(vocab, train.names, variant), encode(vocab, val.names, variant)
    y_train, y_val = train.rgb / 255.0, val.rgb / 255.0
    mean_rgb = y_train.mean(axis=0)
    bins = fit_bins(train.rgb, variant.bins, seed=args.seed) if variant.bins else None
    if bins:
        decoder = ColorBins(bins)
        y_train, y_val = soft_targets(train.rgb, decoder.rgb), soft_targets(val.rgb, decoder.rgb)
        print(f"{len(bins)} CIELAB bins")
    return ColorData(
        variant, table, train, val, vocab, x_train, y_train, x_val, y_val, mean_rgb, bins
    )


def train_color(args) -> dict:
    if args.out == Path(""):
        args.out = None
    keras.utils.set_random_seed(args.seed)
    d = color_setup(args)
    variant, train, val, vocab = d.variant, d.train, d.val, d.vocab
    x_train, y_train, x_val, y_val = d.x_train, d.y_train, d.x_val, d.y_val
    mean_rgb, bins = d.mean_rgb, d.bins
    decoder = ColorBins(bins) if bins else None
    run_dir = Path(args.run_dir)
    model = build_color_model(variant, vocab.size, MAX_NAME_LENGTH)
    model.summary(print_fn=lambda line, **_: print(line))
    run = fit_color(model, (x_train, y_train), (x_val, y_val), args, f"color ({variant.name})")
    predicted = model.predict(x_val, verbose=0)
    metrics = color_metrics(val.rgb, decoder.answers(predicted) if bins else predicted, mean_rgb)
    metrics.update(variant=variant.name, n_train=len(train), **run)
    print(json.dumps(metrics))
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))

    if args.out:
        metadata = color_metadata(d, metrics, training_command())
        export_color(model, variant, metadata, Path(args.out), x_val[:256])
    return metrics


def color_metadata(d: ColorData, metrics: dict, command: str) -> ModelMetadata:
    """The file's metadata: vocabulary, variant, bins, mean colour and the known names."""
    return ModelMetadata(
        kind=COLOR,
        vocabulary=d.vocab.tokens,
        max_length=MAX_NAME_LENGTH,
        metrics=metrics,
        data_sources=d.table.sources,
        training_command=command,
        trained_at=utc_now(),
        extra={
            "padding": d.variant.padding,
            "variant": asdict(d.variant),
            "mean_rgb": [round(float(v), 6) for v in d.mean_rgb],
            **({"bins": d.bins} if d.bins else {}),
            "known_colors": {
                n: hex_color(tuple(int(c) for c in rgb))
                for n, rgb in zip(d.table.names, d.table.rgb, strict=True)
            },
        },
    )


def traced_graph(model: keras.Model, max_length: int, output: str = "rgb") -> onnx.ModelProto:
    """tf2onnx's graph of the model: what the one-hot variants (no mask) are exported as."""
    import tensorflow as tf

    from training.onnx_export import convert

    spec = [tf.TensorSpec([None, max_length], tf.int32, name="chars")]
    function = tf.function(
        lambda chars: {output: model(chars, training=False)}, input_signature=spec
    )
    return convert(function, spec)


def export_color(
    model: keras.Model,
    variant: ColorVariant,
    metadata: ModelMetadata,
    out: Path,
    sample: np.ndarray,
    references: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, float]:
    """Write `out` only if it reproduces Keras on `sample` (and each of `references`, which
    are (chars, expected rgb) pairs) within 1e-4; returns the max |difference| of each check.

    Masked variants get the native-LSTM graph (`onnx_graph`), the one-hot ones tf2onnx's.
    """
    if supports_native(variant):
        proto = color_graph(model, variant, metadata.max_length)
    else:
        proto = traced_graph(model, metadata.max_length, output_name(variant))
    attach_metadata(proto, metadata)
    checks = {"Keras": (sample, model.predict(sample, verbose=0)), **(references or {})}
    differences: dict[str, float] = {}

    def parity(session) -> float:
        for label, (chars, expected) in checks.items():
            (got,) = session.run([output_name(variant)], {"chars": chars})
            differences[label] = float(np.abs(got - expected).max())
        print("parity max |diff|: " + ", ".join(f"vs {k} {v:.2g}" for k, v in differences.items()))
        return max(differences.values())

    write_checked(proto, out, parity)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {len(proto.graph.node)} nodes)")
    return differences
