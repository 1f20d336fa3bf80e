"""Model cards (markdown next to the ONNX file), written from the file's own metadata.

Everything in a card is read from the model, its run directory or measured here, so the
card cannot drift from the model it describes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from bot.engine import InferenceEngine
from bot.vocabulary import Vocabulary
from training.charlm.corpus import read_texts, split_chunks
from training.charlm.evaluate import evaluate_text, load_step_model

SAMPLE_TEMPERATURES = (0.2, 0.5, 1.0)


def _fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds:,.0f} s ({seconds / 60:.1f} min)"


def held_out_text(step_vocab: Vocabulary, data: list[Path], split: dict) -> str:
    """The validation chunks of the training split, rebuilt from the data files."""
    ids = np.concatenate([step_vocab.encode(t).ids for t in read_texts(data)])
    return step_vocab.decode(split_chunks(ids, split["val_chunk"], split["val_every"]).val)


def write_card(
    model_path: Path, run_dir: Path, data: list[Path], prompt: str = "", note: str = ""
) -> Path:
    from bot.write.service import WriteRequest, WriteService

    step = load_step_model(model_path)
    meta = step.model.metadata
    style = meta.extra["style"]
    vocab = Vocabulary(meta.vocabulary)
    held_out = evaluate_text(step, held_out_text(vocab, data, meta.extra["split"]))
    engine = InferenceEngine(model_path.parent, prefer_gpu=False)
    engine.models[model_path.stem] = step.model
    service = WriteService(engine)
    samples = [
        (t, service.write(WriteRequest(style, prompt, 400, t, seed=1)).text)
        for t in SAMPLE_TEMPERATURES
    ]
    curve = model_path.with_name(f"{model_path.stem}_loss.png")
    shutil.copy(run_dir / "loss_curve.png", curve)
    m, cfg = meta.metrics, meta.extra["config"]
    lines = [
        f"# Model card: `{model_path.name}` ({style} style, /write)",
        "",
        f"Character-level LSTM language model, {cfg['layers']} x {cfg['units']} units, "
        f"embedding {cfg['embedding']}, dropout {cfg['dropout']}, vocabulary of "
        f"{len(meta.vocabulary)} characters. Exported as a single-step ONNX graph (token and "
        "(h, c) per layer in; next-character logits and new state out).",
        "",
        "## Training",
        "",
        f"- Command: `{meta.training_command}` (export: `python -m training export write "
        f"--run-dir {run_dir} --out {model_path}`)",
        "- Data: "
        + ", ".join(f"{d['file']} ({d['characters']:,} characters)" for d in meta.data_sources),
        f"- Split: every {meta.extra['split']['val_every']}th chunk of "
        f"{meta.extra['split']['val_chunk']:,} characters held out "
        f"({meta.extra['split']['val_tokens']:,} validation, "
        f"{meta.extra['split']['train_tokens']:,} training characters)",
        f"- Epochs: {m['epochs_run']} run, best {m['best_epoch']} (early-stopping patience "
        f"{meta.extra['settings']['patience']}); batch {meta.extra['settings']['batch_size']}, "
        f"sequence length {meta.extra['settings']['seq_len']}",
        *([f"- Note: {note}"] if note else []),
        f"- Hardware: {m['hardware']}; training time {_fmt_seconds(m['training_seconds'])}",
        f"- Exported: {meta.trained_at}",
        "",
        "## Metrics",
        "",
        "| measure | nats/char | bits/char |",
        "|---|---|---|",
        f"| validation loss during training (100-character windows, state reset each window) "
        f"| {m['val_nats_per_token']} | {m['val_bits_per_token']} |",
        f"| `evaluate write` on the same held-out chunks ({held_out['n_chars']:,} characters, "
        f"state carried) | {held_out['nats_per_char']} | {held_out['bits_per_char']} |",
        f"| training loss at the best epoch (with dropout) | {m['train_nats_per_token']} | "
        f"{round(m['train_nats_per_token'] / np.log(2), 4)} |",
        "",
        f"![loss curve]({curve.name})",
        "",
        "## Samples",
        "",
        f"400 characters, seed 1, prompt {prompt!r}, from "
        f"`python -m bot write --style {style} --length 400 --seed 1 --temperature T`:",
    ]
    for temperature, text in samples:
        lines += ["", f"### temperature {temperature}", "", "```text", text, "```"]
    card = model_path.with_suffix(".md")
    card.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(json.dumps({"card": str(card), "held_out": held_out}))
    return card


CARD_COLOR_NAMES = [
    "forest",
    "ocean",
    "sky",
    "blood",
    "grass",
    "snow",
    "lavender",
    "mustard",
    "coal",
    "sunset",
    "rust",
    "peach",
    "midnight",
    "sand",
    "moss",
    "wine",
    # invented names, in no list
    "angry tomato",
    "sleepy lagoon",
    "dragon breath",
    "frozen mint tea",
    "haunted forest",
    "cyber banana",
    "royal swamp",
    "sad cloud",
]


def color_grid_png(service, names: list[str], path: Path, columns: int = 4) -> None:
    """Each cell: the list's colour (left, if the name is known) and the model's (right)."""
    from PIL import Image, ImageDraw, ImageFont

    from bot.render import contrasting_text_color

    cell_w, cell_h = 240, 110
    rows = (len(names) + columns - 1) // columns
    image = Image.new("RGB", (cell_w * columns, cell_h * rows), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=15)
    small = ImageFont.load_default(size=11)
    for i, name in enumerate(names):
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        predicted = service.color(name, model_only=True)
        known = service.color(name)
        if known.source == "known":
            draw.rectangle([x, y, x + cell_w // 2, y + cell_h], fill=known.rgb)
            draw.rectangle([x + cell_w // 2, y, x + cell_w, y + cell_h], fill=predicted.rgb)
            label = "list | model"
        else:
            draw.rectangle([x, y, x + cell_w, y + cell_h], fill=predicted.rgb)
            label = "model (unseen name)"
        ink = contrasting_text_color(predicted.rgb)
        draw.text((x + 8, y + 8), name, fill=ink, font=font)
        draw.text((x + 8, y + cell_h - 20), f"{label}  {predicted.hex}", fill=ink, font=small)
        draw.rectangle([x, y, x + cell_w - 1, y + cell_h - 1], outline="white", width=2)
    image.save(path)


def color_card(model_path: Path, run_dir: Path, variants_table: Path | None) -> Path:
    from bot.colors.service import ColorService

    engine = InferenceEngine(model_path.parent, prefer_gpu=False)
    loaded = engine.load_file(model_path)
    engine.models[model_path.stem] = loaded
    meta, m = loaded.metadata, loaded.metadata.metrics
    grid = model_path.with_name(f"{model_path.stem}_swatches.png")
    color_grid_png(ColorService(engine, model_path.stem), CARD_COLOR_NAMES, grid)
    curve = model_path.with_name(f"{model_path.stem}_loss.png")
    shutil.copy(run_dir / "loss_curve.png", curve)
    variant = meta.extra["variant"]
    gain = 100 * (1 - m["delta_e_mean"] / m["baseline_delta_e_mean"])
    lines = [
        f"# Model card: `{model_path.name}` (/color)",
        "",
        f"Character-level model from a colour name to sRGB. Variant `{variant['name']}`: "
        f"{variant['description']}. Names are lower-cased, accents stripped and whitespace "
        f"folded, then read as up to {meta.max_length} characters from a vocabulary of "
        f"{len(meta.vocabulary)}. The file also carries the {len(meta.extra['known_colors']):,} "
        "known names of its training lists, which the bot answers from directly.",
        "",
        "## Training",
        "",
        f"- Command: `{meta.training_command}`",
        "- Data (first list wins a name the lists disagree on):",
        *(
            f"  - {d['file']}: {d['rows']:,} rows, {d['kept']:,} new names kept"
            for d in meta.data_sources
        ),
        f"- Split: 10% of names by a hash of the name: {m['n_train']:,} training, "
        f"{m['n']:,} validation names (unseen during training)",
        f"- Epochs: {m['epochs_run']} run, best {m['best_epoch']} (early stopping on validation "
        "loss, patience 5); batch 32, Adam",
        f"- Hardware: {m['hardware']}; training time {_fmt_seconds(m['training_seconds'])}",
        f"- Exported: {meta.trained_at}",
        "",
        "## Metrics on the validation names",
        "",
        "| measure | model | mean-colour baseline |",
        "|---|---|---|",
        f"| CIEDE2000 mean | {m['delta_e_mean']} | {m['baseline_delta_e_mean']} |",
        f"| CIEDE2000 median | {m['delta_e_median']} | {m['baseline_delta_e_median']} |",
        f"| MSE (RGB in [0, 1]) | {m['mse']} | |",
        "",
        f"The model's mean error is {gain:.0f}% below always answering the training set's mean "
        "colour. Reproduce with `python -m training evaluate color --model "
        f"{model_path} --data FILE.csv` on any list.",
        "",
        f"![loss curve]({curve.name})",
        "",
        "## Swatches",
        "",
        "Left half: the colour in the lists (known names only); right half, or whole cell: "
        "the model's prediction (`--model-only`). The last eight names are invented.",
        "",
        f"![swatches]({grid.name})",
    ]
    if variants_table:
        lines += ["", "## Variants tried (same split)", "", variants_table.read_text().strip()]
    card = model_path.with_suffix(".md")
    card.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(json.dumps({"card": str(card)}))
    return card
