"""`train caption-image`: Show and Tell on frozen MobileNetV2 features.

The features of every image are computed once by the ONNX backbone the bot runs (cached
in the run directory); the head and the decoder (started from a caption language model
that never saw these images' captions) are fine-tuned on the training images, and
everything is reported on held-out images: nats/char with the caption's own image,
another image, a grey image and no image, and a retrieval rate against chance.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

import keras
import numpy as np

from bot.errors import InvalidInput
from bot.images import image_pixels, open_image
from bot.runtime.lm import log_softmax
from bot.text.captions import normalize_caption
from bot.text.vocabulary import Vocabulary
from training.callbacks import standard_callbacks
from training.caption.backbone import (
    CLASSES,
    FEATURES,
    IMAGE_SIZE,
    Backbone,
    convert_backbone,
    file_digest,
)
from training.caption.concept_lm import load_concept_run
from training.caption.concepts import (
    encoder_head,
    fit_classifier,
    image_targets,
    out_of_fold,
)
from training.caption.data import MAX_CAPTION, MIN_CAPTION, caption_examples, is_validation
from training.caption.image_export import export_decoder, export_encoder
from training.caption.image_model import (
    build_captioner,
    build_head,
    copy_decoder,
    set_decoder_trainable,
)
from training.errors import UserError
from training.runtime import hardware
from training.tokenlm.export import load_run
from training.tokenlm.train import metrics_from_log

RETRIEVAL_IMAGES = 100
GREY = 128


def read_image_captions(csv_path: Path) -> dict[str, list[str]]:
    """Image file name -> its cleaned captions, in file order."""
    rows: dict[str, list[str]] = {}
    try:
        with Path(csv_path).open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                text = normalize_caption(row["caption"])
                if MIN_CAPTION <= len(text) <= MAX_CAPTION:
                    rows.setdefault(row["image"], []).append(text)
    except FileNotFoundError:
        raise UserError(f"{csv_path}: file not found") from None
    except KeyError:
        raise UserError(f"{csv_path}: header must have 'image' and 'caption'") from None
    return rows


def load_pixels(paths: list[Path]) -> tuple[list[int], np.ndarray]:
    """Indices of the readable images and their pixels, read exactly as the bot reads an
    upload (`open_image`, then `image_pixels`)."""
    kept, arrays = [], []
    for i, path in enumerate(paths):
        try:
            arrays.append(image_pixels(open_image(Path(path).read_bytes()), IMAGE_SIZE))
            kept.append(i)
        except (OSError, InvalidInput) as exc:
            print(f"skipped {path}: {exc}")
    return kept, np.stack(arrays) if arrays else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)


def image_features(args, backbone: Backbone, names: list[str]) -> dict:
    """Features of every image (and of a plain grey image), cached in the run directory."""
    cache = Path(args.run_dir) / "features.npz"
    digest = file_digest(args.backbone)
    if cache.exists():
        stored = np.load(cache)
        fresh = str(stored["backbone"]) == digest and f"mirror_{FEATURES}" in stored.files
        if fresh and list(stored["names"]) == names:
            return {k: stored[k] for k in stored.files}
    started = time.perf_counter()
    kept, pixels = load_pixels([args.images / n for n in names])
    grey = np.full((1, IMAGE_SIZE, IMAGE_SIZE, 3), GREY, np.uint8)
    computed = backbone(np.concatenate([pixels, grey]))
    mirrored = backbone(pixels[:, :, ::-1])  # a second view of each photo, for the classifier
    result = {
        "names": np.array([names[i] for i in kept]),
        "backbone": np.array(digest),
        **{k: v[:-1] for k, v in computed.items()},
        **{f"grey_{k}": v[-1:] for k, v in computed.items()},
        **{f"mirror_{k}": v for k, v in mirrored.items()},
    }
    np.savez(cache, **result)
    print(f"features of {len(kept)} images in {time.perf_counter() - started:.0f} s")
    return result


def caption_rows(names, captions, vocab: Vocabulary, pick):
    """(image index per caption, examples) for the images `pick` keeps."""
    index = [i for i, n in enumerate(names) if pick(n) for _ in captions[n]]
    texts = [t for n in names if pick(n) for t in captions[n]]
    return np.array(index, np.int64), caption_examples(vocab, texts)


def caption_totals(captioner: keras.Model, features: np.ndarray, examples) -> np.ndarray:
    """Teacher-forced nats of each caption (END included) given its row of `features`."""
    totals = []
    for lo in range(0, len(features), 512):
        rows = slice(lo, lo + 512)
        logits = captioner.predict([features[rows], examples.x[rows]], batch_size=256, verbose=0)
        totals.append(logit_totals(logits, examples.y[rows], examples.weights[rows]))
    return np.concatenate(totals)


def logit_totals(logits: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted nats of each row's targets under (rows, steps, vocabulary) logits."""
    picked = np.take_along_axis(log_softmax(logits), targets[..., None], axis=-1)[..., 0]
    return -(picked * weights).sum(axis=1)


def nats(captioner, features, examples) -> float:
    return float(caption_totals(captioner, features, examples).sum() / examples.weights.sum())


def retrieval(captioner, features: np.ndarray, texts: list[str], vocab: Vocabulary) -> float:
    """How often an image's caption is likeliest under its own image among all of them."""
    n = len(texts)
    examples = caption_examples(vocab, [texts[i] for i in np.repeat(np.arange(n), n)])
    totals = caption_totals(captioner, features[np.tile(np.arange(n), n)], examples)
    return float((totals.reshape(n, n).argmin(axis=1) == np.arange(n)).mean())


def lm_nats(language_model: keras.Model, examples) -> float:
    """Nats/char of a plain caption language model (no image)."""
    logits = language_model.predict(examples.x, batch_size=256, verbose=0)
    return float(logit_totals(logits, examples.y, examples.weights).sum() / examples.weights.sum())


def held_out_metrics(captioner, without: float, data: dict, vocab: Vocabulary) -> dict:
    """Every held-out number the card reports, in nats/char over the same captions;
    `without` is the no-image score of the decoder's starting point."""
    features, examples, own = data["features"], data["val"], data["val_index"]
    other_index = np.array([data["other"][i] for i in own])
    grey = np.repeat(data["grey"], len(own), axis=0)
    with_image = nats(captioner, features[own], examples)
    other = nats(captioner, features[other_index], examples)
    grey_nats = nats(captioner, grey, examples)
    pool = data["val_images"][:RETRIEVAL_IMAGES]
    rate = retrieval(captioner, features[pool], [data["first_caption"][i] for i in pool], vocab)
    return {
        "val_images": len(data["val_images"]),
        "val_captions": len(own),
        "val_nats_per_char_with_image": round(with_image, 4),
        "val_nats_per_char_other_image": round(other, 4),
        "val_nats_per_char_grey_image": round(grey_nats, 4),
        "val_nats_per_char_without_image": round(without, 4),
        "val_bits_per_char_with_image": round(with_image / math.log(2), 4),
        "own_image_below_other_image": round((other - with_image) / other, 4),
        "retrieval_images": len(pool),
        "retrieval_rate": round(rate, 4),
        "retrieval_chance": round(1 / len(pool), 4),
    }


def prepare(args, vocab: Vocabulary) -> dict:
    captions = read_image_captions(args.captions)
    if not captions:
        raise UserError(f"no usable captions in {args.captions}")
    backbone = Backbone(convert_backbone(args.backbone))
    found = image_features(args, backbone, sorted(captions))
    names = [str(n) for n in found["names"]]
    if not names:
        raise UserError(f"no readable images from {args.captions} in {args.images}")
    is_val = lambda n: is_validation(f"flickr:{n}", args.val_fraction)  # noqa: E731  the LM's split
    train_index, train = caption_rows(names, captions, vocab, lambda n: not is_val(n))
    val_index, val = caption_rows(names, captions, vocab, is_val)
    val_images = [i for i, n in enumerate(names) if is_val(n)]
    if not len(train_index) or len(val_images) < 2:
        raise UserError("need training images and at least two held-out images")
    # "Another image": the next held-out image, so every caption meets a different one.
    other = {a: b for a, b in zip(val_images, val_images[1:] + val_images[:1], strict=True)}
    print(
        f"{len(names)} images: {len(train_index)} training captions, {len(val_index)} "
        f"validation captions of {len(val_images)} held-out images"
    )
    key = FEATURES if args.features == "pooled" else CLASSES
    _, sample = load_pixels([args.images / names[i] for i in val_images[:4]])
    return {
        "captions": [captions[n] for n in names],
        "mirror": found[f"mirror_{key}"],
        "vocabulary": vocab.tokens,
        "sample_pixels": sample,
        "backbone": backbone,
        "names": names,
        "features": found[key],
        "grey": found[f"grey_{key}"],
        "train": train,
        "train_index": train_index,
        "val": val,
        "val_index": val_index,
        "val_images": val_images,
        "other": other,
        "first_caption": {i: captions[n][0] for i, n in enumerate(names)},
    }


def fit(captioner, data: dict, args, epochs: int, learning_rate: float, resume: bool) -> None:
    """Compile (the trainable set may have changed) and fit with early stopping on the
    held-out images; a second phase appends to the same log and loss curve."""
    captioner.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate, weight_decay=args.weight_decay, clipnorm=5.0
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )
    train, val, features = data["train"], data["val"], data["features"]
    captioner.fit(
        [features[data["train_index"]], train.x],
        train.y,
        sample_weight=train.weights,
        validation_data=([features[data["val_index"]], val.x], val.y, val.weights),
        batch_size=args.batch_size,
        epochs=epochs,
        verbose=2,
        callbacks=standard_callbacks(
            Path(args.run_dir),
            "image captioner",
            args.patience,
            ylabel="nats per character",
            resume=resume,
        ),
    )


def _head_captioner(args, run: tuple, data: dict) -> tuple:
    """`state` or `step`: a head on the features, the decoder from a plain caption LM."""
    _, config, language_model = run
    train_features = data["features"][np.unique(data["train_index"])]
    head = build_head(config, train_features, args.condition, args.feature_dropout)
    captioner = build_captioner(config, head, args.condition)
    copy_decoder(language_model, captioner, config.layers)
    if args.head_epochs:
        # First the head alone (and, for `step`, the first LSTM, where the image enters)
        # at a higher rate: fine-tuned together from the start, the decoder learns the
        # captions faster than the head learns the picture, and ends up ignoring it.
        keep = {"lstm_0"} if args.condition == "step" else set()
        set_decoder_trainable(captioner, config.layers, keep)
        fit(captioner, data, args, args.head_epochs, args.head_learning_rate, resume=False)
    set_decoder_trainable(captioner, config.layers, set() if args.freeze_decoder else None)
    fit(captioner, data, args, args.epochs, args.learning_rate, resume=bool(args.head_epochs))
    return captioner, head, lm_nats(language_model, data["val"]), {}


def _concept_captioner(args, run: tuple, data: dict) -> tuple:
    """`concepts`: a concept classifier on the features, the decoder from a caption LM that
    learned to read concepts; the decoder is fine-tuned on out-of-fold predictions. The
    captioner reads concept probabilities, so they replace `data`'s features (and grey)."""
    info, config, captioner = run
    concepts = info["concepts"]
    targets = np.stack([image_targets(concepts, c) for c in data["captions"]])
    train = np.unique(data["train_index"])
    views = [data["features"][train], data["mirror"][train]]
    classifier = fit_classifier(
        np.concatenate(views), np.tile(targets[train], (2, 1)), args.concept_l2
    )
    probabilities = classifier.predict(data["features"], verbose=0)
    probabilities[train] = out_of_fold(views, targets[train], args.concept_l2)
    grey = classifier.predict(data["grey"], verbose=0)
    prior = np.asarray(info["concept_prior"], np.float32)[None]
    held = data["val_images"]
    no_image = np.repeat(prior, len(data["val_index"]), axis=0)
    without = nats(captioner, no_image, data["val"])
    data["features"], data["grey"] = probabilities, grey
    set_decoder_trainable(captioner, config.layers, set() if args.freeze_decoder else None)
    fit(captioner, data, args, args.epochs, args.learning_rate, resume=False)
    extra = {
        "decoder_start": decoder_start(info, args.decoder_run),
        "concepts": len(concepts),
        "concept_l2": args.concept_l2,
        "concept_auc_held_out": round(mean_auc(targets[held] > 0, probabilities[held]), 4),
        "val_nats_per_char_concept_prior": round(nats(captioner, no_image, data["val"]), 4),
    }
    top = {  # what the encoder is confident of, for the card's held-out photos
        data["names"][i]: [
            [concepts[k], round(float(probabilities[i, k]), 3)]
            for k in np.argsort(-probabilities[i])[:5]
        ]
        for i in held[:12]
    }
    (Path(args.run_dir) / "concepts_held_out.json").write_text(json.dumps(top, indent=1))
    return captioner, encoder_head(classifier, captioner.get_layer("head")), without, extra


def decoder_start(info: dict, run_dir: Path) -> dict:
    """The decoder's starting point for the card: its command, epochs, best loss, time."""
    log = metrics_from_log(run_dir)
    return {
        "training_command": info["training_command"],
        "epochs": log["epochs_run"],
        "best_val_loss": log["val_nats_per_token"],
        "seconds": log["training_seconds"],
    }


def mean_auc(truth: np.ndarray, scores: np.ndarray) -> float:
    """Mean ROC AUC over the columns that have both classes (rank formula, no ties)."""
    aucs = []
    for k in range(truth.shape[1]):
        positive = truth[:, k]
        if 0 < positive.sum() < len(positive):
            ranks = scores[:, k].argsort().argsort() + 1
            n_pos, n_neg = positive.sum(), len(positive) - positive.sum()
            aucs.append((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return float(np.mean(aucs))


def train_caption_image(args) -> None:
    keras.utils.set_random_seed(args.seed)
    Path(args.run_dir).mkdir(parents=True, exist_ok=True)
    concepts = args.condition == "concepts"
    run = (load_concept_run if concepts else load_run)(args.decoder_run)
    info, config, _ = run
    vocab = Vocabulary(info["vocabulary"])
    data = prepare(args, vocab)
    started = time.perf_counter()  # training time: the image features are computed above
    train = _concept_captioner if concepts else _head_captioner
    captioner, head, without, extra = train(args, run, data)
    seconds = time.perf_counter() - started
    metrics = {
        **held_out_metrics(captioner, without, data, vocab),
        **extra,
        "condition": args.condition,
        "features": args.features,
        "decoder_fine_tuned": not args.freeze_decoder,
        "train_captions": len(data["train"].x),
        "head_epochs": args.head_epochs,
        "training_seconds": round(seconds, 1),
        "hardware": hardware(),
    }
    print(json.dumps(metrics))
    run_dir = Path(args.run_dir)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    val_names = [data["names"][i] for i in data["val_images"]]
    (run_dir / "val_images.json").write_text(json.dumps(val_names))
    if args.out:
        decoder = export_decoder(captioner, config, info, metrics, args)
        export_encoder(head, config, metrics, args, decoder, data)
