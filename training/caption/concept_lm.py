"""`train caption-concepts`: the caption language model that reads concepts at every step.

It is the image captioner's starting point (`train caption-image --condition concepts`):
trained on captions of other images (the captioned photos' own captions are excluded),
each caption given the concepts that the other captions of its image mention (see
`concepts.py`), so the decoder learns from text alone how to follow a concept vector.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import keras
import numpy as np

from bot.text.captions import END, START
from training.callbacks import standard_callbacks
from training.caption.concepts import concept_head, concept_list, image_targets, leave_one_out
from training.caption.data import (
    Caption,
    caption_examples,
    caption_vocabulary,
    load_captions,
    split,
)
from training.caption.image_model import build_captioner
from training.data_report import print_dropped
from training.errors import UserError
from training.runtime import hardware, training_command
from training.tokenlm.export import load_run
from training.tokenlm.model import LMConfig
from training.tokenlm.train import BEST_WEIGHTS, CONFIG_FILE, completed_epochs, lm_config


def grouped(captions: list[Caption]) -> list[list[str]]:
    """Captions grouped by the image they describe, in first-seen order."""
    groups: dict[str, list[str]] = defaultdict(list)
    for c in captions:
        groups[c.key].append(c.text)
    return list(groups.values())


def build_concept_lm(config: LMConfig, concepts: int) -> keras.Model:
    """[concept probabilities, tokens] -> logits: the `step` captioner over concepts."""
    return build_captioner(config, concept_head(concepts, config.embedding), "step")


def load_concept_run(run_dir: Path) -> tuple[dict, LMConfig, keras.Model]:
    """The run's info (with its concept list and prior), config and best model."""

    def build(config: LMConfig, info: dict) -> keras.Model:
        if "concepts" not in info:
            raise UserError(f"{run_dir} is not a concept caption model (train caption-concepts)")
        return build_concept_lm(config, len(info["concepts"]))

    return load_run(run_dir, build)


def _inputs(concepts: list[str], captions: list[Caption], prior, vocab, seed: int):
    groups = grouped(captions)
    vectors = leave_one_out(concepts, groups, prior, np.random.default_rng(seed))
    examples = caption_examples(vocab, [t for g in groups for t in g])
    return vectors, examples


def train_caption_concepts(args) -> None:
    keras.utils.set_random_seed(args.seed)
    config, info, (train_vectors, train_examples), (val_vectors, val_examples) = concept_setup(args)
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / CONFIG_FILE).write_text(json.dumps(info, indent=1))
    model = build_concept_lm(config, len(info["concepts"]))
    done = completed_epochs(run_dir)[0] if args.resume else 0
    if done and (run_dir / BEST_WEIGHTS).exists():
        # The best weights, not the last (the optimizer's moments start afresh).
        model.load_weights(run_dir / BEST_WEIGHTS)
        print(f"resumed after epoch {done} from {run_dir / BEST_WEIGHTS}")
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )
    model.fit(
        [train_vectors, train_examples.x],
        train_examples.y,
        sample_weight=train_examples.weights,
        validation_data=([val_vectors, val_examples.x], val_examples.y, val_examples.weights),
        batch_size=args.batch_size,
        epochs=args.epochs,
        initial_epoch=done,
        verbose=2,
        callbacks=standard_callbacks(
            run_dir,
            "caption LM over concepts",
            args.patience,
            ylabel="nats per character",
            resume=args.resume,
        ),
    )


def concept_setup(args) -> tuple[LMConfig, dict, tuple, tuple]:
    """What `train caption-concepts` fits, from its arguments (also `recipe gpu`'s): the
    config, the run's info (its config.json) and the (concept vectors, examples) of the
    training and validation captions."""
    data = load_captions(args.data)
    print_dropped(data.sources, data.dropped, "captions")
    train, val = split(data.captions, args.val_fraction)
    excluded = {c.key for c in load_captions(args.exclude_images).captions}
    before = len(train)
    train = [c for c in train if c.key not in excluded]
    val = [c for c in val if c.key not in excluded]
    print(f"excluded {before - len(train):,} training captions of {len(excluded)} images")
    vocab = caption_vocabulary(data.captions)
    concepts = concept_list(grouped(train), args.concepts)
    prior = np.mean([image_targets(concepts, g) for g in grouped(train)], axis=0)
    config = lm_config(vocab.size, args)
    info = {
        "config": config.as_dict(),
        "vocabulary": vocab.tokens,
        "concepts": concepts,
        "concept_prior": [round(float(p), 6) for p in prior],
        "data_sources": data.sources,
        "split": {
            "by": "image",
            "val_fraction": args.val_fraction,
            "excluded_images_from": [Path(p).name for p in args.exclude_images],
            "train_captions": len(train),
            "val_captions": len(val),
        },
        "training_command": training_command(),
        "hardware": hardware(),
        "extra": {"task": "caption", "start_token": START, "end_token": END},
    }
    train_inputs = _inputs(concepts, train, prior, vocab, args.seed)
    val_inputs = _inputs(concepts, val, prior, vocab, args.seed + 1)
    print(f"{len(train_inputs[0]):,} training and {len(val_inputs[0]):,} validation captions")
    return config, info, train_inputs, val_inputs
