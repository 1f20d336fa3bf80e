"""`train write` / `export write` / `evaluate write`: character language models of a style."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot.metadata import ModelMetadata
from bot.vocabulary import Vocabulary
from training.charlm.corpus import build_vocabulary, read_texts, split_chunks
from training.charlm.model import LMConfig
from training.charlm.train import TrainSettings, metrics_from_log, train_lm
from training.runtime import hardware, training_command, utc_now

KIND = "charlm"
START_TOKEN = "\n"  # generation without a prompt starts as if after a line break


def train_write(args) -> None:
    texts = read_texts(args.data)
    vocab = build_vocabulary(texts)
    if START_TOKEN not in vocab:
        vocab = Vocabulary(sorted([*vocab.tokens, START_TOKEN]))
    ids = np.concatenate([vocab.encode(t).ids for t in texts])
    split = split_chunks(ids, args.val_chunk, args.val_every)
    config = LMConfig(vocab.size, args.embedding, args.units, args.layers, args.dropout)
    settings = TrainSettings(
        epochs=args.epochs,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
        sample_length=args.sample_length,
    )
    run_info = {
        "task": "write",
        "style": args.style,
        "vocabulary": vocab.tokens,
        "data_sources": [
            {"file": Path(p).name, "characters": len(t)}
            for p, t in zip(args.data, texts, strict=True)
        ],
        "split": {
            "val_chunk": args.val_chunk,
            "val_every": args.val_every,
            "train_tokens": int(len(split.train)),
            "val_tokens": int(len(split.val)),
        },
        "settings": settings.__dict__,
        "training_command": training_command(),
        "hardware": hardware(),
    }
    start = vocab.encode(START_TOKEN).ids.tolist()
    result = train_lm(
        args.run_dir,
        config,
        split.train,
        split.val,
        settings,
        args.resume,
        start,
        vocab.decode,
        run_info,
    )
    print(json.dumps(result))
    if args.out:
        export_write(args.run_dir, args.out)


def export_write(run_dir: Path, out: Path) -> None:
    from training.charlm.export import export_lm, load_run

    info, config, model = load_run(Path(run_dir))
    vocab = Vocabulary(info["vocabulary"])
    metrics = metrics_from_log(Path(run_dir))
    metrics["hardware"] = info["hardware"]
    metadata = ModelMetadata(
        kind=KIND,
        vocabulary=vocab.tokens,
        max_length=0,
        metrics=metrics,
        data_sources=info["data_sources"],
        training_command=info["training_command"],
        trained_at=utc_now(),
        extra={
            "task": "write",
            "style": info["style"],
            "start_token": START_TOKEN,
            "split": info["split"],
            "settings": info["settings"],
        },
    )
    rng = np.random.default_rng(0)
    export_lm(model, config, metadata, Path(out), rng.integers(0, vocab.size, 100).astype(np.int32))
