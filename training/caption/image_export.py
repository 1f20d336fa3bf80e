"""Export the image captioner as two files, each checked against Keras:

- `NAME_encoder.onnx`: uint8 pixels -> the decoder's conditioning (the MobileNetV2 backbone
  and the trained head merged into one graph, so one file is one model);
- `NAME_image_decoder.onnx`: the fine-tuned decoder as a single-step graph whose state
  layout carries the conditioning (h, c per layer; plus `image_in` for `--condition step`).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import onnx

from bot.contract.metadata import ModelMetadata
from bot.contract.signatures import CAPTION_ENCODER, CHARLM
from training.caption.backbone import CLASSES, FEATURES, IMAGE_SIZE, INPUT, file_digest
from training.caption.image_model import (
    IMAGE_STATE,
    build_decoder_step,
    copy_decoder,
    every_step,
    head_outputs,
)
from training.runtime import training_command, utc_now
from training.tokenlm.model import LMConfig, state_names


def decoder_layout(config: LMConfig, condition: str) -> list[dict]:
    layout = [{"input": i, "output": o, "size": config.units} for i, o in state_names(config)]
    if every_step(condition):
        layout.append({"input": IMAGE_STATE[0], "output": IMAGE_STATE[1], "size": config.embedding})
    return layout


def _as_list(values) -> list:
    return list(values) if isinstance(values, list | tuple) else [values]


def step_graph(step_model: keras.Model, layout: list[dict]) -> onnx.ModelProto:
    """A Keras step model (tokens (B, 1), states in layout order -> logits, new states)
    traced on the CPU as ONNX: `tokens` (B,) and each state under its layout name."""
    import tensorflow as tf

    from training.onnx_export import convert

    spec = [tf.TensorSpec([None], tf.int32, name="tokens")] + [
        tf.TensorSpec([None, s["size"]], tf.float32, name=s["input"]) for s in layout
    ]

    @tf.function(input_signature=spec)
    def step(tokens, *states):
        logits, *new_states = step_model([tokens[:, None], *states], training=False)
        return {
            "logits": logits,
            **{s["output"]: v for s, v in zip(layout, new_states, strict=True)},
        }

    with tf.device("/CPU:0"):
        return convert(step, spec)


def stepwise_difference(
    session, layout: list[dict], start: dict, tokens: np.ndarray, expected: np.ndarray
) -> float:
    """Max |logits difference| stepping `tokens` one at a time through the ONNX step graph
    (state from `start`, zeros elsewhere) against the sequence model's `expected` logits."""
    feeds = {
        s["input"]: start.get(s["input"], np.zeros((1, s["size"]), np.float32)) for s in layout
    }
    worst, names = 0.0, [o.name for o in session.get_outputs()]
    for position, token in enumerate(tokens):
        feeds["tokens"] = np.array([token], np.int32)
        out = dict(zip(names, session.run(names, feeds), strict=True))
        worst = max(worst, float(np.abs(out["logits"][0] - expected[position]).max()))
        feeds.update({s["input"]: out[s["output"]] for s in layout})
    return worst


def export_decoder(captioner: keras.Model, config: LMConfig, info: dict, metrics: dict, args):
    """The fine-tuned decoder's step graph beside the encoder; returns its model name."""
    from training.onnx_export import attach_metadata, write_checked

    step_model = build_decoder_step(config, args.condition)
    copy_decoder(captioner, step_model, config.layers)
    layout = decoder_layout(config, args.condition)
    proto = step_graph(step_model, layout)
    extra = {
        "task": "caption",
        "start_token": info["extra"]["start_token"],
        "end_token": info["extra"]["end_token"],
        "conditioned_on": "image",
        "condition": args.condition,
        "state": layout,
        "config": config.as_dict(),
        "contexts": [],
    }
    attach_metadata(
        proto,
        ModelMetadata(
            kind=CHARLM,
            vocabulary=info["vocabulary"],
            max_length=0,
            metrics=metrics,
            data_sources=info["data_sources"],
            training_command=training_command(),
            trained_at=utc_now(),
            extra=extra,
        ),
    )
    features = np.random.default_rng(0).normal(size=(1, captioner.input_shape[0][1]))
    features = np.abs(features).astype(np.float32)
    tokens = np.random.default_rng(1).integers(0, config.vocab_size, 60).astype(np.int32)
    expected = keras.ops.convert_to_numpy(captioner([features, tokens[None]], training=False))[0]
    head = captioner.get_layer("head")
    initial = [keras.ops.convert_to_numpy(t) for t in _as_list(head(features, training=False))]
    start = {
        name: value
        for (_, name, _), value in zip(head_outputs(config, args.condition), initial, strict=True)
    }

    out = Path(args.out)
    path = out.with_name(out.stem.removesuffix("_encoder") + "_image_decoder.onnx")
    difference = write_checked(
        proto, path, lambda session: stepwise_difference(session, layout, start, tokens, expected)
    )
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB), parity max |diff| = {difference:.2g}"
    )
    return path.stem


def export_encoder(head: keras.Model, config, metrics: dict, args, decoder: str, data) -> None:
    """Backbone + head as one graph: `image` (N, 224, 224, 3) uint8 -> conditioning."""
    import tensorflow as tf

    from training.onnx_export import attach_metadata, convert, write_checked

    outputs = head_outputs(config, args.condition)
    spec = [tf.TensorSpec([None, head.input_shape[1]], tf.float32, name="head_features")]

    @tf.function(input_signature=spec)
    def encode(features):
        values = _as_list(head(features, training=False))
        return {name: v for (name, _, _), v in zip(outputs, values, strict=True)}

    head_proto = onnx.compose.add_prefix(
        convert(encode, spec), "head/", rename_inputs=False, rename_outputs=False
    )
    source = FEATURES if args.features == "pooled" else CLASSES
    proto = onnx.compose.merge_models(
        data["backbone"].proto,
        head_proto,
        io_map=[(source, "head_features")],
        outputs=[name for name, _, _ in outputs],
    )
    meta = ModelMetadata(
        kind=CAPTION_ENCODER,
        vocabulary=data["vocabulary"],
        max_length=0,
        metrics=metrics,
        data_sources=[
            {"file": Path(args.captions).name, "images": str(args.images)},
            {"file": Path(args.backbone).name, "sha256": file_digest(args.backbone)},
        ],
        training_command=training_command(),
        trained_at=utc_now(),
        extra={
            "image_size": IMAGE_SIZE,
            "input": "uint8 RGB, centre square resized bilinear (bot.images.image_pixels)",
            "backbone": "MobileNetV2 1.0 224, ImageNet, 8-bit TFLite (frozen)",
            "features": args.features,
            "condition": args.condition,
            "decoder": decoder,
            "val_fraction": args.val_fraction,
            "state": [{"output": o, "decoder_input": i, "size": size} for o, i, size in outputs],
        },
    )
    attach_metadata(proto, meta)
    pixels = data["sample_pixels"]
    features = data["backbone"](pixels)[source]
    expected = [keras.ops.convert_to_numpy(t) for t in _as_list(head(features, training=False))]

    def parity(session) -> float:
        got = session.run([name for name, _, _ in outputs], {INPUT: pixels})
        return max(float(np.abs(g - e).max()) for g, e in zip(got, expected, strict=True))

    out = Path(args.out)
    difference = write_checked(proto, out, parity)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), parity max |diff| = {difference:.2g}")
