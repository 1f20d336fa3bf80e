"""`python -m training ... paint`: the painter's options."""

from __future__ import annotations

from pathlib import Path

from training.cli import Kinds, lm_arguments, run_and_out


def register(kinds: Kinds) -> None:
    p = kinds.add(
        "train",
        "paint",
        "training.paint.train:train_paint",
        help="pixel-by-pixel painter over a colour palette",
    )
    p.add_argument("--data", type=Path, required=True, help="folder of images")
    p.add_argument("--size", type=int, default=64, help="paintings are size x size pixels")
    p.add_argument("--colors", type=int, default=64, help="palette size K (k-means)")
    from training.paint.variants import VARIANTS as PAINT_VARIANTS

    p.add_argument(
        "--variant",
        choices=list(PAINT_VARIANTS),
        default="above",
        help="; ".join(f"{name}: {text}" for name, (text, _) in PAINT_VARIANTS.items()),
    )
    p.add_argument(
        "--thumbnail",
        type=int,
        default=8,
        help="thumbnail grid of the variants that paint one first (G x G blocks)",
    )
    p.add_argument(
        "--mirror",
        action="store_true",
        help="train on each painting and its mirror image (the palette is fitted on the "
        "paintings as they are)",
    )
    p.add_argument(
        "--seq-len",
        type=int,
        help="training window in tokens (default: an eighth of a painting's stream, "
        "512 at 64x64, 520 with an 8x8 thumbnail; the whole stream if 8 does not divide it)",
    )
    lm_arguments(p, units=192, batch_size=32)

    run_and_out(kinds.add("export", "paint", "training.tokenlm.export:export_main"))

    p = kinds.add("card", "paint", "training.cards.paint:paint_card_main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        help="another painter to score on the same held-out paintings (repeatable)",
    )
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--note", default="", help="how the model came to be, beyond its command")

    p = kinds.add("evaluate", "paint", "training.paint.evaluate:main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True, help="folder of images")

    p = kinds.add("quantize", "paint", "training.paint.quantize:main")
    p.add_argument("--model", type=Path, required=True, help="the float painter")
    p.add_argument("--data", type=Path, required=True, help="its folder of paintings")
    p.add_argument("--out", type=Path, help="default: replace --model")
    p.add_argument("--max-cost", type=float, default=0.005, help="bits/pixel allowed")
    p.add_argument(
        "--min-speedup", type=float, help="write int8 only if its steps are this much faster"
    )
