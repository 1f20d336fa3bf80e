"""`train write`: character language models of a writing style."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot.vocabulary import Vocabulary
from training.charlm.corpus import build_vocabulary, read_texts, split_chunks, windows
from training.charlm.train import Examples, lm_config, lm_settings, run_info, train_lm

START_TOKEN = "\n"  # generation without a prompt starts as if after a line break


def train_write(args) -> None:
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
    result = train_lm(
        args.run_dir,
        lm_config(vocab.size, args),
        Examples(*windows(split.train, args.seq_len)),
        Examples(*windows(split.val, args.seq_len)),
        settings,
        args.resume,
        vocab.encode(START_TOKEN).ids.tolist(),
        vocab.decode,
        info,
    )
    print(json.dumps(result))
    if args.out:
        from training.charlm.export import export_run, slim_run

        export_run(args.run_dir, args.out)
        # Beside the model, its Keras weights: what `finetune write --from` starts from.
        slim_run(args.run_dir).replace(Path(args.out).with_suffix(".weights.h5"))
