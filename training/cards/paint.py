"""The painter's card: bits per pixel, composition, and a grid of paintings."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from bot.runtime.batching import BatcherPool
from bot.runtime.engine import InferenceEngine
from training.cards.common import (
    fmt_seconds,
    save_card,
)
from training.tokenlm.evaluate import load_step_model


def paint_grid_png(service, path: Path, seeds: range, temperature: float = 1.0) -> None:
    from PIL import Image

    from bot.paint.service import PaintRequest

    tile = 256
    columns = 4
    rows = (len(seeds) + columns - 1) // columns
    sheet = Image.new("RGB", (tile * columns, tile * rows), "white")
    for i, seed in enumerate(seeds):
        result = service.paint(PaintRequest(seed=seed, temperature=temperature))
        from io import BytesIO

        image = Image.open(BytesIO(result.png(display=tile)))
        sheet.paste(image, ((i % columns) * tile, (i // columns) * tile))
    sheet.save(path)


def palette_sizes_table(data: Path, size: int, val_names: list[str]) -> list[str]:
    """Quantisation quality of held-out paintings for several palette sizes K."""
    from training.paint.data import fit_palette, load_paintings, quantization_psnr

    paintings = load_paintings(data, size)
    is_val = np.array([n in set(val_names) for n in paintings.names])
    rows = ["| K | held-out quantisation PSNR (dB) |", "|---|---|"]
    for k in (16, 32, 64, 128, 256):
        palette = fit_palette(paintings.pixels[~is_val], k)
        rows.append(f"| {k} | {quantization_psnr(paintings.pixels[is_val], palette):.2f} |")
    return rows


COMPOSITION_SETS = 8  # sets of paintings per painter: the distance varies from set to set


def composition_rows(
    services: list[tuple[str, object]], train_pixels: np.ndarray, held_out: np.ndarray
) -> list[str]:
    """Layouts of each painter's paintings (seeds 1 to 8n, eight sets of n) against the
    training paintings', beside the floor (the n real held-out paintings) and a texture
    control (the same with their blocks shuffled: real colours, no composition). Every
    set has n paintings, since the distance's estimate grows as sets shrink, and the
    real ones are seen through the first painter's palette, as the painters' are."""
    from bot.paint.service import PaintRequest
    from training.paint.data import quantize
    from training.paint.layout import frechet, layouts, vertical_contrast

    n = len(held_out)
    if n < 2:
        return [f"({n} held-out painting: too few to compare layouts)"]
    reference = layouts(train_pixels)
    painted = []
    for label, service in services:
        seeds = range(1, COMPOSITION_SETS * n + 1)
        results = [job.result() for job in [service.submit(PaintRequest(seed=s)) for s in seeds]]
        palette = np.asarray(results[0].palette)
        factor = train_pixels.shape[1] // results[0].size
        pixels = np.stack([palette[r.indices] for r in results])
        painted.append((label, layouts(pixels.repeat(factor, axis=1).repeat(factor, axis=2))))
    palette = np.asarray(services[0][1].painter(None).palette)
    real = layouts(palette[quantize(held_out, palette)])
    rng = np.random.default_rng(0)
    shuffled = np.array([rng.permutation(layout) for layout in real])
    sets = [("real held-out paintings (floor)", real), ("held-out, blocks shuffled", shuffled)]
    sets += painted
    rows = [
        "| paintings | layout distance to the training paintings | top minus bottom "
        "lightness | top lighter |",
        "|---|---|---|---|",
    ]
    for label, layout in sets:
        sets_of_n = layout.reshape(-1, n, layout.shape[1])
        distances = [frechet(reference, one) for one in sets_of_n]
        spread = f" ± {np.std(distances):.0f}" if len(distances) > 1 else ""
        contrast = vertical_contrast(layout)
        rows.append(
            f"| {label} ({len(layout)}) | {np.mean(distances):.0f}{spread} | "
            f"{contrast.mean():+.1f} | {(contrast > 0).mean():.0%} |"
        )
    return rows


def paint_card(
    model_path: Path, run_dir: Path, others: list[Path], data: Path, note: str = ""
) -> Path:
    """`others`: painters to compare on the same held-out paintings (variants, controls)."""
    from bot.paint.service import PaintService
    from training.paint.data import load_paintings
    from training.paint.evaluate import bits_per_pixel, painting_nats
    from training.paint.variants import VARIANTS as PAINT_VARIANTS

    step = load_step_model(model_path)
    meta, extra = step.model.metadata, step.model.metadata.extra
    val_names = extra["split"]["val_names"]
    paintings = load_paintings(data, extra["size"])
    keep = np.array([n in set(val_names) for n in paintings.names])
    held_out = paintings.pixels[keep]
    n_held = len(held_out)
    rows, painters = [], []
    for path in [model_path, *others]:
        graph = step if path == model_path else load_step_model(path)
        gm = graph.model.metadata
        bits = bits_per_pixel(painting_nats(graph, held_out), held_out[..., 0].size)
        label = "this model" if path == model_path else f"`{path.name}`"
        inputs = PAINT_VARIANTS[gm.extra["variant"]][0]
        rows.append((label, inputs, bits, gm.metrics["epochs_run"]))
        alone = InferenceEngine(path.parent, prefer_gpu=False)
        alone.models[path.stem] = graph.model
        painters.append((label, PaintService(alone, BatcherPool())))
    composition = composition_rows(painters, paintings.pixels[~keep], held_out)
    results = {label: round(bits, 4) for label, _, bits, _ in rows}
    grid = model_path.with_name(f"{model_path.stem}_paintings.png")
    paint_grid_png(painters[0][1], grid, range(1, 17))
    for _, service in painters:
        service.pool.close()
    curve = model_path.with_name(f"{model_path.stem}_loss.png")
    shutil.copy(run_dir / "loss_curve.png", curve)
    m = meta.metrics
    cfg = extra["config"]
    described = PAINT_VARIANTS[extra["variant"]][0]
    lines = [
        f"# Model card: `{model_path.name}` (/paint)",
        "",
        f"A pixel-by-pixel LSTM ({cfg['layers']} x {cfg['units']}) that paints "
        f"{extra['size']}x{extra['size']} pictures in raster order over a palette of "
        f"{len(extra['palette'])} colours learned by k-means on the training paintings. Each "
        f"step sees: {described}, so the picture holds together vertically and knows where on "
        "the canvas it is."
        + (
            " The same step graph first paints a thumbnail of "
            f"{extra['thumbnail']}x{extra['thumbnail']} cells (each cell the palette colour "
            "nearest a block's mean), whose colours "
            "the painting then follows: the composition is chosen before the brushwork, and "
            "the reply shows it as the underpainting while the rows fill in."
            if extra.get("thumbnail")
            else ""
        )
        + " Exported as a single-step ONNX graph; the bot upscales the "
        "result to 512x512 (3x bicubic, a mode filter that merges pixels into dabs, bicubic, "
        "softening).",
        "",
        "## Training",
        "",
        f"- Command: `{meta.training_command}`",
        f"- Data: {meta.data_sources[0]['images']} paintings from "
        f"`{meta.data_sources[0]['folder']}`; {extra['split']['train_paintings']} training, "
        f"{extra['split']['val_paintings']} held out (by a hash of the file name)",
        f"- Palette K = {len(extra['palette'])}, size {extra['size']}, windows of "
        f"{extra['settings']['seq_len']} tokens, batch {extra['settings']['batch_size']}"
        + (", each painting also mirrored" if extra["split"].get("mirrored") else ""),
        *([f"- Note: {note}"] if note else []),
        f"- Epochs: {m['epochs_run']} (best {m['best_epoch']}); hardware {m['hardware']}; "
        f"training time {fmt_seconds(m['training_seconds'])}",
        "",
        "## Bits per pixel on the held-out paintings",
        "",
        "Whole paintings, state carried, bits of the palette index "
        "(`python -m training evaluate paint`):",
        "",
        "| model | inputs per step | bits/pixel | training epochs |",
        "|---|---|---|---|",
        *(
            f"| {label} | {inputs} | {bits:.3f} | {epochs} |"
            for label, inputs, bits, epochs in rows
        ),
        "",
        f"![loss curve]({curve.name})",
        "",
        "## Composition",
        "",
        "Where light sits on the canvas: each painting's layout is the CIELAB lightness of "
        "a 4x4 grid of block means; the distance is the Fréchet distance between Gaussians "
        "fitted to two sets of layouts (as FID does with image features), here against "
        f"the {int((~keep).sum())} training paintings, for sets of {n_held} paintings "
        f"(a painter's: the mean and spread over {COMPOSITION_SETS} sets, seeds 1-"
        f"{COMPOSITION_SETS * n_held}), "
        "the real ones through this model's palette; lower is closer. A painter of "
        "textures with no composition lands near the shuffled control. "
        "(`training.paint.layout`)",
        "",
        *composition,
        "",
        "## Palette size",
        "",
        *palette_sizes_table(data, extra["size"], val_names),
        "",
        "Each doubling of K buys about 2 dB. K = 64 keeps 28.6 dB (the colours of a 64x64 "
        "thumbnail are recognisably kept) with a 65-way softmax; 256 would add 3.7 dB but "
        "quadruple the output layer and spread the training data over four times as many "
        "classes.",
        "",
        "## Paintings",
        "",
        "Seeds 1 to 16, temperature 1.0 (`python -m bot paint --seed N`):",
        "",
        f"![paintings]({grid.name})",
    ]
    return save_card(model_path, lines, {"bits_per_pixel": results})


def paint_card_main(args) -> None:
    paint_card(args.model, args.run_dir, args.compare, args.data, args.note)
