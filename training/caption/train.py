"""`train caption`: the caption language model, on the generic LM pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import keras

from bot.text.captions import END, START
from bot.text.vocabulary import Vocabulary
from training.caption.data import (
    Caption,
    caption_examples,
    caption_vocabulary,
    load_captions,
    split,
)
from training.data_report import print_dropped
from training.tokenlm.model import LMConfig
from training.tokenlm.train import TrainSettings, lm_config, lm_settings, run_info, train_lm


def fit_captions(
    args,
    config: LMConfig,
    vocab: Vocabulary,
    train: list[Caption],
    val: list[Caption],
    settings: TrainSettings,
    info: dict,
    start: Callable[[keras.Model], None] | None = None,
) -> None:
    """Train a caption language model (START + caption predicts caption + END) in
    `args.run_dir`; shared by `train caption` and `finetune caption`."""
    result = train_lm(
        args.run_dir,
        config,
        caption_examples(vocab, [c.text for c in train]),
        caption_examples(vocab, [c.text for c in val]),
        settings,
        args.resume,
        vocab.encode(START).ids.tolist(),
        vocab.decode,
        info,
        sample_end=int(vocab.encode(END).ids[0]),
        start=start,
    )
    print(json.dumps(result))


def train_caption(args) -> None:
    data = load_captions(args.data)
    print_dropped(data.sources, data.dropped, "captions")
    train, val = split(data.captions, args.val_fraction)
    if args.exclude_images:
        # Keep an image set's captions out of pretraining entirely, so an image model
        # trained on it later learns from captions its decoder has never memorised.
        excluded = {c.key for c in load_captions(args.exclude_images).captions}
        before = len(train)
        train = [c for c in train if c.key not in excluded]
        print(f"excluded {before - len(train):,} training captions of {len(excluded)} images")
    vocab = caption_vocabulary(data.captions)
    settings = lm_settings(args, seq_len=0)
    info = run_info(
        vocab.tokens,
        data.sources,
        {
            "by": "image",
            "val_fraction": args.val_fraction,
            "excluded_images_from": [Path(p).name for p in args.exclude_images],
            "train_captions": len(train),
            "val_captions": len(val),
        },
        settings,
        {"task": "caption", "start_token": START, "end_token": END},
    )
    print(f"{len(train):,} training and {len(val):,} validation captions (split by image)")
    fit_captions(args, lm_config(vocab.size, args), vocab, train, val, settings, info)
    if args.out:
        from training.tokenlm.export import export_run

        export_run(args.run_dir, args.out)
