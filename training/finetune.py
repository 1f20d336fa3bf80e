"""`finetune write`: teach a trained style new text, starting from its weights.

The new text's vocabulary is the base's plus any characters it adds (appended, so every
old character keeps its id and its learned rows). A new character's input embedding
starts as the average of the old ones, and its output row as their average with the
bias of the base's rarest character: the model starts out treating it as a plausible but
rare character instead of as noise. Everything else (held-out chunks of the new text,
early stopping, checkpoints and `--resume`, export with the parity check) is the usual
language-model training.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np

from bot.engine import InferenceEngine
from bot.vocabulary import Vocabulary
from training.charlm.corpus import read_texts, split_chunks
from training.charlm.model import LMConfig, build_train_model
from training.charlm.train import BEST_WEIGHTS, CONFIG_FILE, lm_settings, run_info
from training.errors import UserError
from training.write import START_TOKEN, WEIGHTS_SUFFIX, fit_style


def base_of(source: Path) -> tuple[LMConfig, list[str], Path, str]:
    """(config, vocabulary, weights file, style) of a run directory or of an exported
    model with its `NAME.weights.h5` beside it."""
    source = Path(source)
    if source.is_dir():
        try:
            info = json.loads((source / CONFIG_FILE).read_text())
        except FileNotFoundError:
            raise UserError(f"{source} is not a training run (no {CONFIG_FILE})") from None
        style = info["extra"].get("style", source.name)
        return LMConfig(**info["config"]), info["vocabulary"], source / BEST_WEIGHTS, style
    if source.suffix != ".onnx" or not source.exists():
        raise UserError(f"--from must be a run directory or an exported .onnx file: {source}")
    try:
        metadata = InferenceEngine(source.parent, prefer_gpu=False).load_file(source).metadata
    except ValueError as error:
        raise UserError(str(error)) from None
    if metadata.extra.get("task") != "write":
        raise UserError(f"{source} is not a /write style model")
    weights = source.with_suffix(WEIGHTS_SUFFIX)
    if not weights.exists():
        raise UserError(
            f"{source} has no {weights.name} beside it (export keeps the Keras weights there); "
            "pass its run directory instead"
        )
    config = LMConfig(**metadata.extra["config"])
    return config, metadata.vocabulary, weights, metadata.extra.get("style", source.stem)


def extended_vocabulary(base: list[str], texts: list[str]) -> tuple[Vocabulary, list[str]]:
    """The base's tokens, then the new text's characters it lacks (sorted)."""
    known = set(base)
    new = sorted({c for text in texts for c in text} - known - {START_TOKEN})
    return Vocabulary(list(base) + new), new


def extend_into(model: keras.Model, base: keras.Model, old_size: int) -> None:
    """Copy `base`'s weights into `model`, whose vocabulary has extra rows at the end."""
    for layer in model.layers:
        if not layer.weights:
            continue
        source = base.get_layer(layer.name).get_weights()
        if layer.name == "embed":
            (table,) = source
            extra = np.repeat(table.mean(axis=0, keepdims=True), model_rows(layer) - old_size, 0)
            layer.set_weights([np.concatenate([table, extra])])
        elif layer.name == "logits":
            kernel, bias = source
            new = model_rows(layer) - old_size
            kernel = np.concatenate([kernel, np.repeat(kernel.mean(1, keepdims=True), new, 1)], 1)
            bias = np.concatenate([bias, np.full(new, bias.min(), bias.dtype)])
            layer.set_weights([kernel, bias])
        else:
            layer.set_weights(source)


def model_rows(layer: keras.layers.Layer) -> int:
    """Vocabulary size a layer was built for (embedding rows or output units)."""
    return int(layer.input_dim if layer.name == "embed" else layer.units)


def file_digest(path: Path) -> dict:
    """Size and SHA-256 of a training file, so a model says exactly what it learned from."""
    data = Path(path).read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def data_provenance(paths: list[Path], texts: list[str]) -> list[dict]:
    return [
        {"file": Path(p).name, "characters": len(t), **file_digest(p)}
        for p, t in zip(paths, texts, strict=True)
    ]


def finetune_write(args) -> None:
    config, base_vocab, weights, base_style = base_of(args.base)
    texts = read_texts(args.data)
    vocab, new_chars = extended_vocabulary(base_vocab, texts)
    ids = np.concatenate([vocab.encode(t).ids for t in texts])
    val_chunk = min(args.val_chunk, max(200, len(ids) // (args.val_every * 2)))
    split = split_chunks(ids, val_chunk, args.val_every)
    if len(split.val) < 2 * args.seq_len:
        raise UserError(f"{len(ids):,} characters is too little text to hold some out; add more")
    config = replace(config, vocab_size=vocab.size, dropout=args.dropout)
    settings = lm_settings(args, args.seq_len)
    info = run_info(
        vocab.tokens,
        data_provenance(args.data, texts),
        {
            "val_chunk": val_chunk,
            "val_every": args.val_every,
            "train_tokens": int(len(split.train)),
            "val_tokens": int(len(split.val)),
        },
        settings,
        {
            "task": "write",
            "style": args.style,
            "start_token": START_TOKEN,
            "base_model": {"source": str(args.base), "style": base_style},
            "new_characters": new_chars,
        },
    )
    base = build_train_model(replace(config, vocab_size=len(base_vocab)), learning_rate=None)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        base.load_weights(weights)
    print(f"base {base_style}: {len(base_vocab)} characters; new: {''.join(new_chars)!r}")
    fit_style(
        args, config, vocab, split, settings, info, lambda m: extend_into(m, base, len(base_vocab))
    )
