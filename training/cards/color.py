"""The `/color` model's card: held-out CIEDE2000, decoding, and a swatch grid."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from bot.runtime.engine import InferenceEngine
from training.cards.common import (
    fmt_seconds,
    save_card,
)

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
        for k, alternative in enumerate(predicted.alternatives):  # the model's "also"
            top = y + 8 + k * 30
            draw.rectangle([x + cell_w - 34, top, x + cell_w - 8, top + 26], fill=alternative)
            draw.rectangle([x + cell_w - 34, top, x + cell_w - 8, top + 26], outline="white")
        ink = contrasting_text_color(predicted.rgb)
        draw.text((x + 8, y + 8), name, fill=ink, font=font)
        draw.text((x + 8, y + cell_h - 20), f"{label}  {predicted.hex}", fill=ink, font=small)
        draw.rectangle([x, y, x + cell_w - 1, y + cell_h - 1], outline="white", width=2)
    image.save(path)


def decoding_lines(loaded, data: list[Path]) -> list[str]:
    """How the answer is read off the distribution, and what each way costs (held out)."""
    from bot.color.bins import DISTINCT, MIN_MASS, RADIUS, SHARPEN
    from bot.color.service import ColorModel
    from training.color.data import load_colors, split
    from training.color.evaluate import bin_probabilities
    from training.color.metrics import color_metrics

    model = ColorModel(loaded)
    val = split(load_colors(data), 0.1)[1]
    probabilities = bin_probabilities(model, val.names)
    mean_rgb = np.asarray(loaded.metadata.extra["mean_rgb"])
    rows = [
        "| answer | CIEDE2000 mean | median | chroma ratio | lightness spread ratio |",
        "|---|---|---|---|---|",
    ]
    for power, label in ((1.0, "mean of the distribution"), (SHARPEN, None), (3.0, None),
                         (np.inf, "likeliest bin")):  # fmt: skip
        m = color_metrics(val.rgb, model.bins.answers(probabilities, power), mean_rgb)
        label = label or f"mean of the distribution to the power {power:g}"
        if power == SHARPEN:
            label = f"**{label} (shipped)**"
        rows.append(
            f"| {label} | {m['delta_e_mean']} | {m['delta_e_median']} | {m['chroma_ratio']} "
            f"| {m['lightness_spread_ratio']} |"
        )
    shown = sum(len(model.bins.peaks(p)) > 1 for p in probabilities) / len(probabilities)
    return [
        f"The model predicts a distribution over {len(loaded.metadata.extra['bins'])} CIELAB "
        "bins (k-means centres of the training colours, each moved to the nearest real colour "
        "of the lists), trained with cross-entropy against a Gaussian (sigma 6) around each "
        "name's colour. How the answer is read off it trades accuracy for vividness "
        "(validation names, `bot.color.bins`):",
        "",
        *rows,
        "",
        f"Alternatives ('also'): peaks at least {DISTINCT:g} CIELAB units from the answer and "
        f"from each other, each the weighted mean of the bins within {RADIUS:g} units, shown "
        f"when they hold at least {MIN_MASS:.0%} of the probability; {shown:.0%} of the "
        "validation names get at least one.",
        "",
    ]


def comparison_table(model_path: Path, compare: Path, data: list[Path]) -> list[str]:
    """The model beside another colour model on the same held-out names, as users get them."""
    from training.color.evaluate import evaluate_color

    new, old = (evaluate_color(p, data, val_fraction=0.1) for p in (model_path, compare))
    rows = [
        f"| measure (validation names, {new['n']:,}) | `{model_path.name}` (this model) | "
        f"`{compare.name}` (replaced) | mean colour |",
        "|---|---|---|---|",
    ]
    for key, label in (
        ("delta_e_mean", "CIEDE2000 mean"),
        ("delta_e_median", "CIEDE2000 median"),
        ("chroma_ratio", "mean chroma, predicted / true"),
        ("lightness_spread_ratio", "lightness spread (std), predicted / true"),
    ):
        baseline = new.get(f"baseline_{key}", "")
        rows.append(f"| {label} | {new[key]} | {old[key]} | {baseline} |")
    return rows


def color_card(
    model_path: Path,
    run_dir: Path,
    variants_table: Path | None,
    compare: Path | None = None,
    data: list[Path] = (),
) -> Path:
    from bot.color.service import ColorService

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
        f"- Hardware: {m['hardware']}; training time {fmt_seconds(m['training_seconds'])}",
        f"- Exported: {meta.trained_at}",
        "",
        "## Metrics on the validation names",
        "",
        *(
            comparison_table(model_path, compare, data)
            if compare
            else [
                "| measure | model | mean-colour baseline |",
                "|---|---|---|",
                f"| CIEDE2000 mean | {m['delta_e_mean']} | {m['baseline_delta_e_mean']} |",
                f"| CIEDE2000 median | {m['delta_e_median']} | {m['baseline_delta_e_median']} |",
            ]
        ),
        "",
        *(decoding_lines(loaded, data) if "bins" in meta.extra and data else []),
        f"The model's mean error is {gain:.0f}% below always answering the training set's mean "
        "colour. Reproduce with `python -m training evaluate color --model "
        f"{model_path} --data FILE.csv` on any list.",
        "",
        f"![loss curve]({curve.name})",
        "",
        "## Swatches",
        "",
        "Left half: the colour in the lists (known names only); right half, or whole cell: "
        "the model's prediction (`--model-only`), with its alternatives as small squares on "
        "the right when it sees any. The last eight names are invented.",
        "",
        f"![swatches]({grid.name})",
    ]
    if variants_table:
        lines += ["", "## Variants tried (same split)", "", variants_table.read_text().strip()]
    return save_card(model_path, lines, {})


def color_card_main(args) -> None:
    color_card(args.model, args.run_dir, args.variants_table, args.compare, args.data)
