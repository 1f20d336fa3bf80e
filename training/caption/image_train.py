"""`train caption-image`: fit the image encoder with the pretrained caption decoder."""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

import keras
import numpy as np

from bot.caption.tokens import normalize_caption
from bot.images import image_to_array
from bot.metadata import ModelMetadata
from bot.model_specs import CAPTION_ENCODER
from bot.vocabulary import Vocabulary
from training.callbacks import standard_callbacks
from training.caption.data import MAX_CAPTION, MIN_CAPTION, caption_examples, is_validation
from training.caption.image_model import (
    build_captioner,
    build_encoder,
    copy_decoder,
    load_decoder,
)
from training.charlm.export import load_run
from training.errors import UserError
from training.runtime import hardware, training_command, utc_now


def load_image_captions(csv_path: Path, image_dir: Path, size: int):
    """Images as arrays and (image index, caption) rows; unreadable images are skipped."""
    from PIL import Image

    rows: dict[str, list[str]] = {}
    with csv_path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = normalize_caption(row["caption"])
            if MIN_CAPTION <= len(text) <= MAX_CAPTION:
                rows.setdefault(row["image"], []).append(text)
    names, arrays, skipped = [], [], 0
    for name in sorted(rows):
        try:
            with Image.open(image_dir / name) as image:
                arrays.append(image_to_array(image, size))
            names.append(name)
        except OSError:
            skipped += 1
    if not names:
        raise UserError(f"no readable images from {csv_path} in {image_dir}")
    print(f"{len(names)} images with captions ({skipped} unreadable skipped)")
    return names, np.stack(arrays), rows


def rows_for(names: list[str], images: np.ndarray, captions: dict, vocab: Vocabulary, pick):
    index = [i for i, n in enumerate(names) if pick(n) for _ in captions[n]]
    texts = [t for n in names if pick(n) for t in captions[n]]
    examples = caption_examples(vocab, texts)
    return images[index], examples, [names[i] for i in index], texts


def weighted_nats(logits: np.ndarray, examples) -> float:
    """Exact nats per character (END included) over all captions, teacher forced."""
    z = logits - logits.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, examples.y[..., None], axis=-1)[..., 0]
    return float(-(picked * examples.weights).sum() / examples.weights.sum())


def train_caption_image(args) -> None:
    keras.utils.set_random_seed(args.seed)
    info, config, language_model = load_run(args.decoder_run)
    vocab = Vocabulary(info["vocabulary"])
    names, images, captions = load_image_captions(args.captions, args.images, args.image_size)
    key = lambda n: is_validation(f"flickr:{n}", args.val_fraction)  # noqa: E731  same split as the LM
    train_images, train, _, _ = rows_for(names, images, captions, vocab, lambda n: not key(n))
    val_images, val, val_names, val_texts = rows_for(names, images, captions, vocab, key)
    print(
        f"{len(train.x)} training and {len(val.x)} validation captions "
        f"({len(set(val_names))} validation images)"
    )

    encoder = build_encoder(config, args.image_size)
    captioner = build_captioner(config, encoder)
    load_decoder(captioner, language_model, config.layers, freeze=args.freeze_decoder)
    captioner.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=5.0),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )
    run_dir = Path(args.run_dir)
    started = time.perf_counter()
    captioner.fit(
        [train_images, train.x],
        train.y,
        sample_weight=train.weights,
        validation_data=([val_images, val.x], val.y, val.weights),
        batch_size=args.batch_size,
        epochs=args.epochs,
        verbose=2,
        callbacks=standard_callbacks(
            run_dir, "image captioner", args.patience, ylabel="nats per character"
        ),
    )
    seconds = time.perf_counter() - started
    # The same held-out captions scored three ways: with their image; by the same
    # captioner shown a plain grey image (what the image itself adds); by the
    # unconditional language model (zero state).
    with_image = weighted_nats(captioner.predict([val_images, val.x], verbose=0), val)
    grey = np.full_like(val_images, 0.5)
    grey_image = weighted_nats(captioner.predict([grey, val.x], verbose=0), val)
    without = weighted_nats(language_model.predict(val.x, verbose=0), val)
    metrics = {
        "val_images": len(set(val_names)),
        "val_captions": len(val.x),
        "decoder_fine_tuned": not args.freeze_decoder,
        "val_nats_per_char_with_image": round(with_image, 4),
        "val_nats_per_char_grey_image": round(grey_image, 4),
        "val_nats_per_char_without_image": round(without, 4),
        "val_bits_per_char_with_image": round(with_image / math.log(2), 4),
        "val_bits_per_char_grey_image": round(grey_image / math.log(2), 4),
        "val_bits_per_char_without_image": round(without / math.log(2), 4),
        "image_gain_nats_per_char": round(without - with_image, 4),
        "image_gain_vs_grey_nats_per_char": round(grey_image - with_image, 4),
        "train_captions": len(train.x),
        "training_seconds": round(seconds, 1),
        "hardware": hardware(),
    }
    print(json.dumps(metrics))
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (run_dir / "val_images.json").write_text(json.dumps(sorted(set(val_names))))
    encoder.save_weights(run_dir / "encoder.weights.h5")
    captioner.save_weights(run_dir / "captioner.weights.h5")
    if args.out:
        decoder_name = Path(args.decoder_model).stem if args.decoder_model else "captions"
        if not args.freeze_decoder:
            decoder_name = export_decoder(captioner, config, info, metrics, Path(args.out))
        meta = metadata(args, metrics, vocab, decoder_name)
        export_encoder(encoder, config, meta, Path(args.out), val_images[:16])


def export_decoder(captioner: keras.Model, config, info: dict, metrics: dict, out: Path) -> str:
    """The fine-tuned decoder as its own step graph, beside the encoder."""
    from training.charlm.export import export_with_info
    from training.charlm.model import build_train_model

    language_model = build_train_model(config, learning_rate=None)
    copy_decoder(captioner, language_model, config.layers)
    path = out.with_name(out.stem.removesuffix("_encoder") + "_image_decoder.onnx")
    extra = {**info["extra"], "conditioned_on": "image"}
    export_with_info(language_model, config, info, metrics, path, training_command(), extra)
    return path.stem


def metadata(args, metrics: dict, vocab: Vocabulary, decoder: str) -> ModelMetadata:
    return ModelMetadata(
        kind=CAPTION_ENCODER,
        vocabulary=vocab.tokens,
        max_length=0,
        metrics=metrics,
        data_sources=[{"file": Path(args.captions).name, "images": str(args.images)}],
        training_command=training_command(),
        trained_at=utc_now(),
        extra={
            "image_size": args.image_size,
            "decoder": decoder,
            "val_fraction": args.val_fraction,
        },
    )


def export_encoder(
    encoder: keras.Model, config, meta: ModelMetadata, out: Path, sample: np.ndarray
) -> None:
    import tensorflow as tf

    from training.charlm.model import state_names
    from training.onnx_export import attach_metadata, convert, write_checked

    size = meta.extra["image_size"]
    outputs = [i.replace("_in", "_init") for i, _ in state_names(config)]
    inference = build_encoder(config, size, augment=False)
    inference.set_weights(encoder.get_weights())
    spec = [tf.TensorSpec([None, size, size, 3], tf.float32, name="image")]

    @tf.function(input_signature=spec)
    def encode(image):
        return dict(zip(outputs, inference(image, training=False), strict=True))

    proto = convert(encode, spec)
    meta.extra["state"] = [
        {"output": o, "decoder_input": i, "size": config.units}
        for o, (i, _) in zip(outputs, state_names(config), strict=True)
    ]
    attach_metadata(proto, meta)
    expected = [keras.ops.convert_to_numpy(t) for t in inference(sample, training=False)]

    def parity(session) -> float:
        got = session.run(outputs, {"image": sample})
        return max(float(np.abs(g - e).max()) for g, e in zip(got, expected, strict=True))

    diff = write_checked(proto, out, parity)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), parity max |diff| = {diff:.2g}")
