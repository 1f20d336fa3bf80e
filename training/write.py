"""`train write`: character language models of a writing style."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from bot.text.vocabulary import Vocabulary
from training.tokenlm.corpus import Split, build_vocabulary, read_texts, split_chunks, windows
from training.tokenlm.model import LMConfig
from training.tokenlm.train import (
    Examples,
    TrainSettings,
    lm_config,
    lm_settings,
    run_info,
    train_lm,
)

START_TOKEN = "\n"  # generation without a prompt starts as if after a line break
WEIGHTS_SUFFIX = ".weights.h5"  # beside an exported model: what fine-tuning starts from


def train_write(args) -> None:
    config, vocab, split, settings, info = write_setup(args)
    fit_style(args, config, vocab, split, settings, info)


def write_setup(args) -> tuple[LMConfig, Vocabulary, Split, TrainSettings, dict]:
    """What `train write` fits, from its arguments (also `recipe gpu`'s /write styles)."""
    texts = read_texts(args.data)
    vocab = build_vocabulary(texts)
    if START_TOKEN not in vocab:
        vocab = Vocabulary(sorted([*vocab.tokens, START_TOKEN]))
    ids = np.concatenate([vocab.encode(t).ids for t in texts])
    split = split_chunks(ids, args.val_chunk, args.val_every)
    settings = lm_settings(args, args.seq_len)
    info = run_info(
        vocab.tokens,
        [
            {"file": Path(p).name, "characters": len(t)}
            for p, t in zip(args.data, texts, strict=True)
        ],
        {
            "val_chunk": args.val_chunk,
            "val_every": args.val_every,
            "train_tokens": int(len(split.train)),
            "val_tokens": int(len(split.val)),
        },
        settings,
        {"task": "write", "style": args.style, "start_token": START_TOKEN},
    )
    return lm_config(vocab.size, args), vocab, split, settings, info


def fit_style(
    args,
    config: LMConfig,
    vocab: Vocabulary,
    split: Split,
    settings: TrainSettings,
    info: dict,
    start: Callable[[keras.Model], None] | None = None,
) -> None:
    """Train a style on its split, then export it with its Keras weights beside it (what
    `finetune write --from` starts from); shared by `train write` and `finetune write`."""
    result = train_lm(
        args.run_dir,
        config,
        Examples(*windows(split.train, args.seq_len)),
        Examples(*windows(split.val, args.seq_len)),
        settings,
        args.resume,
        vocab.encode(START_TOKEN).ids.tolist(),
        vocab.decode,
        info,
        start=start,
    )
    print(json.dumps(result))
    if args.out:
        from training.tokenlm.export import export_run, slim_run

        export_run(args.run_dir, args.out)
        slim_run(args.run_dir).replace(Path(args.out).with_suffix(WEIGHTS_SUFFIX))
