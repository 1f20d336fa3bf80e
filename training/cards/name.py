"""The `/name` model's card: held-out nats per character and a grid of invented names."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.runtime.batching import BatcherPool
from bot.runtime.engine import InferenceEngine
from training.cards.common import (
    fmt_seconds,
    save_card,
)

CARD_NAME_COLORS = [
    "#7a9e3b", "#1f4e79", "#c0392b", "#f4d03f", "#8e44ad", "#16a085", "#d35400", "#2c3e50",
    "#f5b7b1", "#a9cce3", "#6e2c00", "#fdfefe", "#111111", "#808000", "#ff69b4", "#40e0d0",
]  # fmt: skip


def name_grid_png(service, colors: list[str], path: Path, columns: int = 4) -> list[list[str]]:
    """Each cell: the colour asked for, with the three names offered for it (seed 1)."""
    from PIL import Image, ImageDraw, ImageFont

    from bot.name.service import NameRequest
    from bot.render import contrasting_text_color

    cell_w, cell_h = 240, 110
    rows = (len(colors) + columns - 1) // columns
    image = Image.new("RGB", (cell_w * columns, cell_h * rows), "white")
    draw = ImageDraw.Draw(image)
    font, small = ImageFont.load_default(size=14), ImageFont.load_default(size=11)
    shown = []
    for i, color in enumerate(colors):
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        result = service.name(NameRequest(color, 0.8, seed=1))
        shown.append(result.names)
        draw.rectangle([x, y, x + cell_w, y + cell_h], fill=result.rgb)
        ink = contrasting_text_color(result.rgb)
        for k, name in enumerate(result.names):
            draw.text((x + 8, y + 8 + 22 * k), name, fill=ink, font=font)
        draw.text((x + 8, y + cell_h - 18), result.hex, fill=ink, font=small)
        draw.rectangle([x, y, x + cell_w - 1, y + cell_h - 1], outline="white", width=2)
    image.save(path)
    return shown


def name_card(model_path: Path, color_model: Path, run_dir: Path, data: list[Path]) -> Path:
    from bot.color.service import ColorService
    from bot.name.service import NameService
    from training.name.evaluate import evaluate_name

    engine = InferenceEngine(model_path.parent, prefer_gpu=False)
    engine.models["names"] = engine.load_file(model_path)
    engine.models["color"] = engine.load_file(color_model)
    meta, m = engine.models["names"].metadata, engine.models["names"].metadata.metrics
    e = evaluate_name(model_path, color_model, data)
    pool = BatcherPool()
    grid = model_path.with_name(f"{model_path.stem}_examples.png")
    shown = name_grid_png(NameService(engine, pool, ColorService(engine)), CARD_NAME_COLORS, grid)
    pool.close()
    curve = model_path.with_name(f"{model_path.stem}_loss.png")
    shutil.copy(run_dir / "loss_curve.png", curve)
    cfg = meta.extra["config"]
    lines = [
        f"# Model card: `{model_path.name}` (/name)",
        "",
        f"A character-level LSTM ({cfg['layers']} x {cfg['units']}) that invents a name for a "
        "colour: the colour, in CIELAB / 100, goes through a small head (Dense 64, ReLU, "
        f"Dense {cfg['embedding']}) into a vector read with every character. Exported as one "
        "single-step ONNX graph, head included; the colour travels in the state as "
        "`color_in`. The bot samples 12 names on the shared batcher and offers the first "
        "three that are not names of the lists (carried in the file) and not repeats.",
        "",
        "## Training",
        "",
        f"- Command: `{meta.training_command}`",
        "- Data: the colour lists of `/color`, cleaned the same way: "
        + ", ".join(f"{d['file']} ({d['kept']:,} names kept)" for d in meta.data_sources),
        f"- Split: the colour model's (10% of names by a hash of the name): "
        f"{m['train_names']:,} training, {m['val_names']:,} validation names",
        f"- Epochs: {m['epochs_run']} (best {m['best_epoch']}); hardware {m['hardware']}; "
        f"training time {fmt_seconds(m['training_seconds'])}",
        "",
        "## Does the colour matter?",
        "",
        f"Held-out names, and names offered for {e['colors_named']} held-out colours "
        f"(`python -m training evaluate name --model {model_path} --color-model "
        f"{color_model} --data ...`, the four lists):",
        "",
        "| measure | value | control |",
        "|---|---|---|",
        f"| nats/char of held-out names, given their colour | {e['val_nats_per_char_own_color']}"
        f" | {e['val_nats_per_char_other_color']} given another colour |",
        f"| words of offered names that are words of the lists | {e['real_word_share']:.1%} | |",
        f"| round trip: CIEDE2000 from the asked colour to `/color` of the name | "
        f"{e['round_trip_delta_e_mean']} | {e['round_trip_delta_e_other_color']} for names "
        "offered for another colour |",
        "",
        f"![loss curve]({curve.name})",
        "",
        "## Examples",
        "",
        "Temperature 0.8, seed 1 (`python -m bot name '#7a9e3b' --seed 1`):",
        "",
        f"![names]({grid.name})",
        "",
        *(f"- `{c}`: {', '.join(n)}" for c, n in zip(CARD_NAME_COLORS, shown, strict=True)),
    ]
    return save_card(model_path, lines, {k: v for k, v in e.items() if k != "examples"})


def name_card_main(args) -> None:
    name_card(args.model, args.color_model, args.run_dir, args.data)
