"""The caption models' card: the caption language model and the image captioner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bot.runtime.batching import BatcherPool
from bot.runtime.engine import InferenceEngine
from training.cards.common import (
    fmt_seconds,
    save_card,
    wrapped_lines,
)


def caption_language_stats(captions: list[str], training: set[str], words: set[str]) -> dict:
    generated_words = [w.strip(",'-") for c in captions for w in c.split()]
    generated_words = [w for w in generated_words if w]
    real = sum(1 for w in generated_words if w in words)
    copies = sum(1 for c in captions if c in training)
    return {
        "samples": len(captions),
        "real_word_share": round(real / max(1, len(generated_words)), 4),
        "verbatim_copy_share": round(copies / max(1, len(captions)), 4),
        "distinct_share": round(len(set(captions)) / max(1, len(captions)), 4),
    }


def image_captions(service, image: bytes) -> list[str]:
    """What the card shows for one picture: the beam-search caption and two samples."""
    from bot.caption.service import CaptionRequest

    beam = service.caption(CaptionRequest(image=image)).captions[0]
    sampled = service.caption(CaptionRequest(image=image, count=2, seed=1, beam_width=0))
    return [beam, *sampled.captions]


def caption_grid_png(service, images: list[Path], path: Path, columns: int = 3) -> list[list[str]]:
    """Held-out photos, each with its beam caption (bold line) and two samples."""
    from PIL import Image, ImageDraw, ImageFont

    cell_w, img_h, text_h = 320, 210, 150
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (cell_w * columns, (img_h + text_h) * rows), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    shown = []
    for i, image_path in enumerate(images):
        captions = image_captions(service, image_path.read_bytes())
        shown.append(captions)
        x, y = (i % columns) * cell_w, (i // columns) * (img_h + text_h)
        with Image.open(image_path) as image:
            thumb = image.convert("RGB")
            thumb.thumbnail((cell_w - 10, img_h - 10))
            sheet.paste(thumb, (x + (cell_w - thumb.width) // 2, y + 5))
        line_y = y + img_h
        for label, caption, colour in zip(
            ("beam", "sample", "sample"), captions, ("black", "#555", "#555"), strict=True
        ):
            lines = wrapped_lines(draw, f"{label}: {caption}", font, cell_w - 14)[:3]
            draw.multiline_text((x + 6, line_y), "\n".join(lines), fill=colour, font=font)
            line_y += 16 * len(lines) + 4
    sheet.save(path)
    return shown


FED = {"state": "initial state", "step": "every step", "concepts": "concepts, every step"}


def concept_lines(image_run: Path, names: list[str]) -> dict[str, str]:
    """'dog 0.93, grass 0.61, ...' per held-out photo, when the run predicted concepts."""
    path = Path(image_run) / "concepts_held_out.json"
    if not path.exists():
        return {}
    top = json.loads(path.read_text())
    return {n: ", ".join(f"{w} {p:.2f}" for w, p in top[n]) for n in names if n in top}


def variants_table(runs: list[Path]) -> list[str]:
    """One row per image-captioner variant tried (its run's metrics.json)."""
    rows = [
        "| run | features | image fed | own image | other image | grey image | no image "
        "| own below other | retrieval (chance) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        m = json.loads((Path(run) / "metrics.json").read_text())
        rows.append(
            f"| `{Path(run).name}` | {m['features']} | "
            f"{FED[m['condition']]} | "
            f"{m['val_nats_per_char_with_image']} | {m['val_nats_per_char_other_image']} | "
            f"{m['val_nats_per_char_grey_image']} | {m['val_nats_per_char_without_image']} | "
            f"{m['own_image_below_other_image']:.1%} | {m['retrieval_rate']:.0%} "
            f"({m['retrieval_chance']:.0%}) |"
        )
    return rows


def caption_card(
    model_path: Path,
    encoder_path: Path,
    data: list[Path],
    image_dir: Path,
    image_run: Path,
    variant_runs: list[Path],
    note: str = "",
) -> Path:
    from bot.caption.service import CaptionRequest, CaptionService
    from training.caption.data import load_captions

    engine = InferenceEngine(model_path.parent, prefer_gpu=False)
    for path in (model_path, encoder_path):
        engine.models[path.stem] = engine.load_file(path)
    decoder = engine.models[encoder_path.stem].metadata.extra["decoder"]
    engine.models[decoder] = engine.load_file(model_path.with_name(f"{decoder}.onnx"))
    service = CaptionService(engine, BatcherPool(), model_path.stem)
    meta = engine.models[model_path.stem].metadata
    enc_meta = engine.models[encoder_path.stem].metadata
    corpus = load_captions(data)
    training = {c.text for c in corpus.captions}
    words = {w.strip(",'-") for t in training for w in t.split()}
    samples = []
    for seed in range(100):
        samples += service.caption(CaptionRequest(count=5, temperature=0.7, seed=seed)).captions
    stats = caption_language_stats(samples, training, words)
    val_names = json.loads((image_run / "val_images.json").read_text())[:12]
    grid = model_path.with_name(f"{model_path.stem}_examples.png")
    shown = caption_grid_png(service, [image_dir / n for n in val_names], grid)
    grey = image_captions(service, _grey_png())
    shutil.copy(
        image_run / "loss_curve.png", model_path.with_name(f"{model_path.stem}_image_loss.png")
    )
    m, e = meta.metrics, enc_meta.metrics
    cfg = meta.extra["config"]
    fed = {
        "state": "sets the decoder's initial (h, c) per layer (Show and Tell)",
        "step": "is fed to the decoder with every character (a 64-wide image vector)",
        "concepts": f"are the probabilities of {e.get('concepts')} concept words (the "
        "commonest content words of captions: dog, grass, snow, ...), fed to the decoder "
        "with every character (through a 64-wide vector)",
    }[e["condition"]]
    start = e.get("decoder_start")
    start_line = (
        f"- Decoder's starting point: a caption language model that reads concepts, trained "
        f"without these images' captions (`{start['training_command']}`; "
        f"{start['epochs']} epochs, {fmt_seconds(start['seconds'])}, validation "
        f"{start['best_val_loss']} nats/char given the other captions' concepts)"
        if start
        else "- Decoder's starting point: the caption language model trained without these "
        "images' captions (`python -m training train caption ... --exclude-images "
        "data/captions/images/captions.csv --run-dir runs/captions_noimg`)"
    )
    concepts = concept_lines(image_run, val_names)
    own_gap, rate = e["own_image_below_other_image"], e["retrieval_rate"]
    verdict = (
        "Against the targets (own image at least 8% below another image; retrieval at least "
        f"25% of 100): this captioner reaches {own_gap:.1%} ("
        + ("met" if own_gap >= 0.08 else "not met")
        + f") and {rate:.0%} ("
        + ("met" if rate >= 0.25 else "not met")
        + ")."
    )
    lines = [
        f"# Model card: `{model_path.name}` and `{encoder_path.name}` (/caption)",
        "",
        f"A character-level caption language model (LSTM {cfg['layers']} x {cfg['units']}, "
        f"vocabulary of {len(meta.vocabulary)} characters including a start and an end token), "
        "exported as a single-step graph, serves `/caption` without an image. With an image, "
        "a pretrained ImageNet MobileNetV2 (8-bit TensorFlow Lite from google-coral/test_data, "
        "Apache-2.0, converted with tf2onnx; frozen) reads the picture (224 x 224, the centre "
        f"square); from its {e['features']} features, what the decoder reads {fed}. The "
        "backbone and head are one ONNX file (`captions_encoder.onnx`); the decoder they "
        f"condition is `{decoder}.onnx`, a caption language model that never saw these images' "
        "captions, fine-tuned with the images.",
        "",
        "Text policy: lower case; letters, digits, space, apostrophe, comma and hyphen kept; "
        "other symbols and the final full stop dropped; whitespace collapsed; captions of 5 to "
        "100 characters. Captions are split by image (10% of images held out, by a hash of the "
        "image id), the same split for every model, so held-out captions describe images "
        "no model saw.",
        "",
        "## Caption language model (no image)",
        "",
        f"- Command: `{meta.training_command}`",
        "- Data: "
        + ", ".join(
            f"{d['file']} ({d['kept']:,} of {d['captions']:,} captions kept)"
            for d in meta.data_sources
        ),
        f"- Split: {meta.extra['split']['train_captions']:,} training, "
        f"{meta.extra['split']['val_captions']:,} validation captions",
        f"- Epochs: {m['epochs_run']}, best {m['best_epoch']}; hardware {m['hardware']}; "
        f"training time {fmt_seconds(m['training_seconds'])}",
        f"- Validation: **{m['val_nats_per_token']} nats/char** ({m['val_bits_per_token']} "
        "bits/char), END included",
        f"- Over {stats['samples']} captions sampled at temperature 0.7 (seeds 0 to 99, 5 each): "
        f"**{stats['real_word_share']:.1%}** of generated words are words of the training "
        f"captions; **{stats['verbatim_copy_share']:.1%}** of captions are verbatim copies of "
        f"a training caption; {stats['distinct_share']:.1%} are distinct.",
        "",
        f"![loss curve]({model_path.stem}_loss.png)",
        "",
        "Samples (`python -m bot caption --count 5 --seed 0`):",
        "",
        *(f"- {c}" for c in samples[:5]),
        "",
        "## Image captioner",
        "",
        f"- Command: `{enc_meta.training_command}`",
        f"- Data: {e['train_captions']:,} training captions of the captioned Flickr8k "
        f"images; {e['val_captions']} captions of {e['val_images']} held-out images for "
        "validation (early stopping) and every number below",
        f"- Hardware {e['hardware']}; training time {fmt_seconds(e['training_seconds'])}",
        start_line,
        "",
        "Held-out captions, nats/char (END included), teacher forced; *own below other* is how "
        "much likelier a caption is under its own photo than under another held-out photo; "
        f"retrieval: each of {e['retrieval_images']} held-out photos' first caption scored "
        "under all of them, how often its own photo explains it best. Each variant tried:",
        "",
        *variants_table(variant_runs),
        "",
        "Reproduce for the shipped pair: `python -m training evaluate caption --model "
        f"exported_models/{decoder}.onnx --encoder exported_models/{encoder_path.name} "
        "--data data/captions/images/captions.csv --images "
        "data/captions/images --held-out`.",
        "",
        f"Control: a plain grey picture gets *{grey[0]}* (beam), *{grey[1]}*, *{grey[2]}*.",
        "",
        verdict + (f" {note}" if note else ""),
        "",
        f"![image loss curve]({model_path.stem}_image_loss.png)",
        "",
        "Held-out photos (never trained on) with the beam-search caption (width 3, "
        "length-normalised, repetition guard) and two samples (temperature 0.7, seed 1):",
        "",
        f"![examples]({grid.name})",
        "",
        *(
            f"- `{name}`: {' / '.join(c)}"
            + (f" (concepts: {concepts[name]})" if name in concepts else "")
            for name, c in zip(val_names, shown, strict=True)
        ),
    ]
    return save_card(model_path, lines, stats)


def _grey_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (224, 224), (128, 128, 128)).save(buffer, format="PNG")
    return buffer.getvalue()


def caption_card_main(args) -> None:
    caption_card(
        args.model,
        args.encoder,
        args.data,
        args.images,
        args.image_run,
        args.variant_run or [args.image_run],
        args.note,
    )
