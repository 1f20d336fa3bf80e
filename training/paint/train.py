"""`train paint`: a pixel-by-pixel LSTM over a k-means palette, on the LM pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bot.contract.pixels import (
    COARSE,
    NEIGHBOURS,
    context_size,
    step_inputs,
    step_targets,
    stream_length,
)
from bot.render import hex_color
from training.errors import UserError
from training.paint.data import (
    fit_palette,
    is_validation,
    load_paintings,
    quantization_psnr,
    quantize,
    thumbnails,
)
from training.paint.variants import MEANINGS, VARIANTS
from training.tokenlm.model import LMConfig
from training.tokenlm.train import (
    Examples,
    TrainSettings,
    lm_config,
    lm_settings,
    run_info,
    train_lm,
    weights_extra,
)


def windows(arrays: list[np.ndarray], seq_len: int) -> list[np.ndarray]:
    """Cut (n, h*w) streams into (n * h*w / seq_len, seq_len) rows (seq_len divides h*w)."""
    return [a.reshape(-1, seq_len) for a in arrays]


def paint_examples(
    pixels: np.ndarray, palette: np.ndarray, seq_len: int, variant: str, grid: int
) -> Examples:
    """Training windows of `pixels` (n, s, s, 3), with their thumbnails first if `grid`."""
    k = len(palette)
    indices = quantize(pixels, palette)
    thumbnail = thumbnails(pixels, palette, grid) if grid else None
    streams = step_inputs(indices, k, VARIANTS[variant][1], thumbnail)
    *inputs, targets = windows([*streams, step_targets(indices, thumbnail)], seq_len)
    return Examples(inputs if len(inputs) > 1 else inputs[0], targets)


def mirrored(pixels: np.ndarray) -> np.ndarray:
    """The paintings and their mirror images: a landscape flipped left to right is still
    one, and twice the training data for a painter that fits what it has."""
    return np.concatenate([pixels, pixels[:, :, ::-1]])


def thumbnail_grid(args) -> int:
    """The variant's thumbnail grid (0: it paints no thumbnail first)."""
    if not any(kind in COARSE for kind in VARIANTS[args.variant][1]):
        return 0
    if args.size % args.thumbnail:
        raise UserError(f"--thumbnail {args.thumbnail} must divide --size {args.size}")
    return args.thumbnail


def check_base_palette(weights: Path, palette: np.ndarray) -> None:
    """A painter started from another's weights must share its palette: an index is a
    colour only through it."""
    base = weights_extra(weights) if weights.exists() else None
    if base and "palette" in base and base["palette"] != palette.tolist():
        raise UserError(
            f"{weights} was trained over another palette (its colour indices mean other "
            "colours here); start from a painter of the same paintings, --colors and --seed"
        )


def train_paint(args) -> None:
    config, train, val, settings, info = paint_setup(args)
    start = [config.vocab_size - 1]  # the start token: index K, after the palette
    result = train_lm(args.run_dir, config, train, val, settings, args.resume, start, str, info)
    print(json.dumps(result))
    if args.out:
        from training.tokenlm.export import export_run

        export_run(args.run_dir, args.out)


def paint_setup(args) -> tuple[LMConfig, Examples, Examples, TrainSettings, dict]:
    """What `train paint` fits, from its arguments (also `recipe gpu`'s painter)."""
    size = args.size
    grid = thumbnail_grid(args)
    stream = stream_length(size, grid)
    seq_len = args.seq_len or (stream // 8 if stream % 8 == 0 else stream)
    if stream % seq_len:
        raise UserError(f"--seq-len must divide the {stream} tokens of a painting")
    paintings = load_paintings(args.data, size)
    for reason, count in paintings.skipped.items():
        print(f"  skipped {count} files: {reason}")
    val_mask = np.array([is_validation(n) for n in paintings.names])
    train_px, val_px = paintings.pixels[~val_mask], paintings.pixels[val_mask]
    print(f"{len(train_px)} training and {len(val_px)} validation paintings at {size}x{size}")
    palette = fit_palette(train_px, args.colors, seed=args.seed)
    psnr = quantization_psnr(val_px, palette)
    print(f"palette of {args.colors} colours: validation quantisation PSNR {psnr:.2f} dB")
    if args.init_weights:
        check_base_palette(Path(args.init_weights), palette)
    k = args.colors
    settings = lm_settings(args, seq_len)
    settings.sample_length = 0  # samples are paintings: see `python -m bot paint`
    kinds = VARIANTS[args.variant][1]
    contexts = [
        {
            "kind": kind,
            "meaning": MEANINGS[kind]
            + (f" (index {k} off the canvas)" if kind in NEIGHBOURS else "")
            + (f" (index {k} off it, and while it is painted)" if kind in COARSE else ""),
        }
        for kind in kinds
    ]
    info = run_info(
        [hex_color(tuple(int(v) for v in c)) for c in palette] + ["<start>"],
        [
            {
                "folder": Path(args.data).name,
                "images": len(paintings.names),
                "skipped": sum(paintings.skipped.values()),
            }
        ],
        {
            "by": "painting",
            "train_paintings": int(len(train_px)),
            "val_paintings": int(len(val_px)),
            "mirrored": bool(args.mirror),
            "val_names": [n for n, v in zip(paintings.names, val_mask, strict=True) if v],
        },
        settings,
        {
            "task": "paint",
            "variant": args.variant,
            "size": size,
            "start_token": k,
            "palette": palette.tolist(),
            "quantization_psnr_db": round(psnr, 2),
            "contexts": contexts,
            **({"thumbnail": grid} if grid else {}),
        },
    )
    config = lm_config(k + 1, args)
    if kinds:
        sizes = tuple(context_size(kind, k, size) for kind in kinds)
        config = type(config)(**{**config.as_dict(), "contexts": sizes})
    train = paint_examples(
        mirrored(train_px) if args.mirror else train_px, palette, seq_len, args.variant, grid
    )
    val = paint_examples(val_px, palette, seq_len, args.variant, grid)
    return config, train, val, settings, info
