"""`evaluate caption`: nats per character of caption models, with and without images."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from bot.caption.encoder import encode_pixels
from bot.images import image_pixels, open_image
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph, log_softmax
from bot.text.vocabulary import Vocabulary
from training.caption.data import caption_examples, is_validation, load_captions
from training.errors import UserError

BATCH = 256


def caption_totals(
    graph: StepGraph, texts: list[str], states: list[np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Teacher-forced nats of each caption and its number of scored characters (END
    included), one batched step per position.

    `states` are per-caption initial states (from an image encoder); None means zeros.
    """
    vocab = Vocabulary(graph.model.metadata.vocabulary)
    examples = caption_examples(vocab, texts)
    totals = np.zeros(len(texts))
    for lo in range(0, len(texts), BATCH):
        hi = min(lo + BATCH, len(texts))
        state = graph.zero_state(hi - lo) if states is None else [s[lo:hi] for s in states]
        weights = examples.weights[lo:hi]
        for t in range(int(weights.sum(axis=0).nonzero()[0].max()) + 1):
            logits, state = graph(examples.x[lo:hi, t], state)
            picked = log_softmax(logits)[np.arange(hi - lo), examples.y[lo:hi, t]]
            totals[lo:hi] -= picked * weights[:, t]
    return totals, examples.weights.sum(axis=1)


def caption_nats(graph: StepGraph, texts: list[str], states: list[np.ndarray] | None) -> float:
    """Nats per character over all the captions."""
    totals, chars = caption_totals(graph, texts, states)
    return float(totals.sum() / chars.sum())


def retrieval_rate(graph: StepGraph, texts: list[str], states: list[np.ndarray]) -> float:
    """For each image's caption (`texts[i]` belongs to image i, whose state is row i of
    `states`), whether its own image gives it the highest likelihood among all the images.
    Chance is 1 / len(texts)."""
    n = len(texts)
    caption_index, image_index = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    totals, _ = caption_totals(
        graph, [texts[i] for i in caption_index], [s[image_index] for s in states]
    )
    best = totals.reshape(n, n).argmin(axis=1)
    return float((best == np.arange(n)).mean())


def encoder_states(encoder, graph: StepGraph, images: list[Path]) -> list[np.ndarray]:
    """The decoder's conditioning for each image, read as the bot reads an upload."""
    size = encoder.metadata.extra["image_size"]
    pixels = [image_pixels(open_image(path.read_bytes()), size) for path in images]
    return encode_pixels(encoder, graph, np.stack(pixels))


def evaluate_caption(args) -> dict:
    engine = InferenceEngine(Path(args.model).parent, prefer_gpu=False)
    try:
        graph = StepGraph(engine.load_file(Path(args.model)))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    data = load_captions(args.data)
    if args.held_out:
        # The split every caption model here uses: by image, a hash of its key.
        data.captions = [c for c in data.captions if is_validation(c.key, args.val_fraction)]
        if not data.captions:
            raise UserError("none of these captions is in the held-out split")
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
    unread = [
        s["decoder_input"]
        for s in encoder.metadata.extra["state"]
        if s["decoder_input"] not in {e["input"] for e in graph.layout}
    ]
    if unread:
        raise UserError(
            f"{Path(encoder_path).name} sets {', '.join(unread)}, which "
            f"{Path(args.model).name} does not read: use the decoder named in its metadata "
            f"({encoder.metadata.extra['decoder']}.onnx)"
        )
    missing = [
        c.image for c in data.captions if not c.image or not (args.images / c.image).exists()
    ]
    if missing:
        raise UserError(
            f"{len(missing)} captions have no image in {args.images} "
            f"(first: {missing[0]!r}); use an image,caption CSV"
        )
    images = sorted({c.image for c in data.captions})
    index = {name: i for i, name in enumerate(images)}
    by_image = encoder_states(encoder, graph, [args.images / name for name in images])
    own = np.array([index[c.image] for c in data.captions])
    conditioned = caption_nats(graph, texts, [s[own] for s in by_image])
    other = (own + 1) % len(images)  # each caption under another image of the set
    other_image = (
        caption_nats(graph, texts, [s[other] for s in by_image]) if len(images) > 1 else None
    )
    grey = grey_states(encoder, graph, len(texts))
    grey_image = caption_nats(graph, texts, grey)
    pool = images[: args.retrieval_images]
    first_caption = {}
    for c in data.captions:
        first_caption.setdefault(c.image, c.text)
    rows = np.array([index[name] for name in pool])
    retrieval = retrieval_rate(graph, [first_caption[n] for n in pool], [s[rows] for s in by_image])
    return {
        **result,
        "n_images": len(images),
        "nats_per_char": round(conditioned, 4),
        "bits_per_char": round(conditioned / math.log(2), 4),
        "nats_per_char_unconditional": round(unconditional, 4),
        "bits_per_char_unconditional": round(unconditional / math.log(2), 4),
        "nats_per_char_other_image": None if other_image is None else round(other_image, 4),
        "own_image_below_other_image": None
        if other_image is None
        else round((other_image - conditioned) / other_image, 4),
        "nats_per_char_grey_image": round(grey_image, 4),
        "retrieval_images": len(pool),
        "retrieval_rate": round(retrieval, 4),
        "retrieval_chance": round(1 / len(pool), 4),
    }


def grey_states(encoder, graph: StepGraph, count: int) -> list[np.ndarray]:
    """The encoder's state for a plain mid-grey picture, for every caption: the control
    that shows what the decoder says when the picture carries nothing."""
    size = encoder.metadata.extra["image_size"]
    grey = encode_pixels(encoder, graph, np.full((1, size, size, 3), 128, np.uint8))
    return [np.repeat(s, count, axis=0) for s in grey]


def main(args) -> None:
    print(json.dumps(evaluate_caption(args)))
