"""`evaluate caption`: nats per character of caption models, with and without images."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bot.engine import InferenceEngine
from bot.images import image_to_array
from bot.lm import StepGraph, log_softmax
from bot.vocabulary import Vocabulary
from training.caption.data import caption_examples, load_captions
from training.errors import UserError

BATCH = 256


def caption_nats(graph: StepGraph, texts: list[str], states: list[np.ndarray] | None) -> float:
    """Teacher-forced nats per character (END included), one batched step per position.

    `states` are per-caption initial states (from an image encoder); None means zeros.
    """
    vocab = Vocabulary(graph.model.metadata.vocabulary)
    examples = caption_examples(vocab, texts)
    total = 0.0
    for lo in range(0, len(texts), BATCH):
        hi = min(lo + BATCH, len(texts))
        state = graph.zero_state(hi - lo) if states is None else [s[lo:hi] for s in states]
        weights = examples.weights[lo:hi]
        for t in range(int(weights.sum(axis=0).nonzero()[0].max()) + 1):
            logits, state = graph(examples.x[lo:hi, t], state)
            picked = log_softmax(logits)[np.arange(hi - lo), examples.y[lo:hi, t]]
            total -= float((picked * weights[:, t]).sum())
    return total / float(examples.weights.sum())


def encoder_states(encoder, graph: StepGraph, images: list[Path]) -> list[np.ndarray]:
    from PIL import Image

    size = encoder.metadata.extra["image_size"]
    arrays = []
    for path in images:
        with Image.open(path) as image:
            arrays.append(image_to_array(image, size))
    batch = np.stack(arrays)
    outputs = {name: [] for name in (s["output"] for s in encoder.metadata.extra["state"])}
    for lo in range(0, len(batch), 64):
        for name, value in encoder.run({"image": batch[lo : lo + 64]}).items():
            outputs[name].append(value)
    by_input = {
        s["decoder_input"]: np.concatenate(outputs[s["output"]])
        for s in encoder.metadata.extra["state"]
    }
    return [by_input[s["input"]] for s in graph.layout]


def evaluate_caption(args) -> dict:
    engine = InferenceEngine(Path(args.model).parent, prefer_gpu=False)
    try:
        graph = StepGraph(engine.load_file(Path(args.model)))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    data = load_captions(args.data)
    texts = [c.text for c in data.captions]
    unconditional = caption_nats(graph, texts, None)
    result = {"n_captions": len(texts), "n_chars": sum(len(t) + 1 for t in texts)}
    if args.images is None:
        return {
            **result,
            "nats_per_char": round(unconditional, 4),
            "bits_per_char": round(unconditional / math.log(2), 4),
        }
    encoder_path = args.encoder or Path(args.model).with_name(
        f"{Path(args.model).stem}_encoder.onnx"
    )
    try:
        encoder = engine.load_file(Path(encoder_path))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    missing = [
        c.image for c in data.captions if not c.image or not (args.images / c.image).exists()
    ]
    if missing:
        raise UserError(
            f"{len(missing)} captions have no image in {args.images} "
            f"(first: {missing[0]!r}); use an image,caption CSV"
        )
    states = encoder_states(encoder, graph, [args.images / c.image for c in data.captions])
    conditioned = caption_nats(graph, texts, states)
    return {
        **result,
        "nats_per_char": round(conditioned, 4),
        "bits_per_char": round(conditioned / math.log(2), 4),
        "nats_per_char_unconditional": round(unconditional, 4),
        "bits_per_char_unconditional": round(unconditional / math.log(2), 4),
    }


def main(args) -> None:
    print(json.dumps(evaluate_caption(args)))
