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
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import keras
import numpy as np

from bot.runtime.engine import InferenceEngine
from bot.text.captions import END, START
from bot.text.vocabulary import Vocabulary
from training.errors import UserError
from training.tokenlm.corpus import read_texts, split_chunks
from training.tokenlm.ensemble import member_prefix
from training.tokenlm.model import LMConfig, build_train_model
from training.tokenlm.onnx_weights import load_step_weights
from training.tokenlm.train import BEST_WEIGHTS, CONFIG_FILE, lm_settings, run_info, start_from
from training.write import START_TOKEN, WEIGHTS_SUFFIX, fit_style


@dataclass
class Base:
    """What a fine-tune starts from: the base's shape, vocabulary and weights."""

    config: LMConfig
    vocabulary: list[str]
    load: Callable[[keras.Model], None]  # sets a train model's weights to the base's
    name: str  # its style, or its file's name


def base_of(source: Path, task: str = "write") -> Base:
    """A run directory, or an exported model of `task`: with its `NAME.weights.h5` beside
    it if there is one, else with the weights read back from the step graph."""
    source = Path(source)
    if source.is_dir():
        try:
            info = json.loads((source / CONFIG_FILE).read_text())
        except FileNotFoundError:
            raise UserError(f"{source} is not a training run (no {CONFIG_FILE})") from None
        if info["extra"].get("task") != task:
            raise UserError(f"{source} is not a run of a {task} model")
        config = LMConfig(**info["config"])
        name = info["extra"].get("style", source.name)
        load = partial(start_from, weights=source / BEST_WEIGHTS)
        return Base(config, info["vocabulary"], load, name)
    if source.suffix != ".onnx" or not source.exists():
        raise UserError(f"--from must be a run directory or an exported .onnx file: {source}")
    try:
        metadata = InferenceEngine(source.parent, prefer_gpu=False).load_file(source).metadata
    except ValueError as error:
        raise UserError(str(error)) from None
    if metadata.extra.get("task") != task:
        raise UserError(f"{source} is not a {task} model")
    config_dict, prefix = metadata.extra.get("config"), ""
    if "ensemble" in metadata.extra:  # a mixture: its first member is the base
        config_dict, prefix = metadata.extra["ensemble"]["members"][0]["config"], member_prefix(0)
        print(f"{source.name} is a mixture of models; fine-tuning starts from its member 0")
    config = LMConfig(**config_dict)
    weights = source.with_suffix(WEIGHTS_SUFFIX)  # beside a mixture: its member 0's weights
    if weights.exists():
        load = partial(start_from, weights=weights)
    else:
        load = lambda model: load_step_weights(model, config, source, prefix)  # noqa: E731
    return Base(config, metadata.vocabulary, load, metadata.extra.get("style", source.stem))


def extended_vocabulary(base: list[str], texts: list[str]) -> tuple[Vocabulary, list[str]]:
    """The base's tokens, then the new text's characters it lacks (sorted)."""
    known = set(base)
    new = sorted({c for text in texts for c in text} - known - {START_TOKEN, START, END})
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


def base_model(base: Base) -> keras.Model:
    model = build_train_model(base.config)
    base.load(model)
    return model


def starting_weights(base: Base) -> Callable[[keras.Model], None]:
    """A fine-tune's `start`: sets its model (whose vocabulary may have grown) to the
    base's weights, with rows for the new tokens."""
    trained = base_model(base)
    return lambda model: extend_into(model, trained, len(base.vocabulary))


def finetune_write(args) -> None:
    base = base_of(args.base)
    texts = read_texts(args.data)
    vocab, new_chars = extended_vocabulary(base.vocabulary, texts)
    ids = np.concatenate([vocab.encode(t).ids for t in texts])
    val_chunk = min(args.val_chunk, max(200, len(ids) // (args.val_every * 2)))
    split = split_chunks(ids, val_chunk, args.val_every)
    if len(split.val) < 2 * args.seq_len:
        raise UserError(f"{len(ids):,} characters is too little text to hold some out; add more")
    config = replace(base.config, vocab_size=vocab.size, dropout=args.dropout)
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
            "base_model": {"source": str(args.base), "style": base.name},
            "new_characters": new_chars,
        },
    )
    start = starting_weights(base)
    print(f"base {base.name}: {len(base.vocabulary)} characters; new: {''.join(new_chars)!r}")
    fit_style(args, config, vocab, split, settings, info, start)


def finetune_caption(args) -> None:
    """A new caption style: the caption model fine-tuned on your own captions (a text file
    with one per line, an image,caption CSV or COCO JSON), held out by image or caption."""
    from training.caption.data import load_captions, split
    from training.caption.train import fit_captions
    from training.data_report import print_dropped
    from training.tokenlm.export import export_run

    base = base_of(args.base, task="caption")
    data = load_captions(args.data)
    print_dropped(data.sources, data.dropped, "captions")
    train, val = split(data.captions, args.val_fraction)
    if len(val) < 2:
        raise UserError(f"{len(data.captions)} captions hold out only {len(val)}; add more")
    vocab, new_chars = extended_vocabulary(base.vocabulary, [c.text for c in data.captions])
    config = replace(base.config, vocab_size=vocab.size, dropout=args.dropout)
    settings = lm_settings(args, seq_len=0)
    sources = [
        {**source, **file_digest(path)}
        for source, path in zip(data.sources, args.data, strict=True)
    ]
    split_info = {"val_fraction": args.val_fraction, "train": len(train), "val": len(val)}
    extra = {
        "task": "caption",
        "start_token": START,
        "end_token": END,
        "base_model": {"source": str(args.base), "name": base.name},
        "new_characters": new_chars,
    }
    info = run_info(vocab.tokens, sources, split_info, settings, extra)
    start = starting_weights(base)
    print(f"base {base.name}: {len(base.vocabulary)} tokens; new: {''.join(new_chars)!r}")
    print(f"{len(train):,} training and {len(val):,} held-out captions")
    fit_captions(args, config, vocab, train, val, settings, info, start)
    if args.out:
        export_run(args.run_dir, args.out)
