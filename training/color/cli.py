"""`python -m training ... color`: the colour model's options."""

from __future__ import annotations

from pathlib import Path

from training.cli import Kinds, finetune_kind


def register(kinds: Kinds) -> None:
    from training.color.variants import DEFAULT_VARIANT, VARIANTS

    p = kinds.add(
        "train", "color", "training.color.train:train_color", help="colour name -> RGB regressor"
    )
    p.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="CSV with name,red,green,blue or name,hex (repeatable)",
    )
    p.add_argument(
        "--train-only",
        type=Path,
        action="append",
        default=[],
        help="train only on names from these lists (validation set unchanged)",
    )
    p.add_argument("--variant", choices=sorted(VARIANTS), default=DEFAULT_VARIANT)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--patience", type=int, default=5, help="early-stopping patience (epochs)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--run-dir",
        type=Path,
        default=Path("runs/color"),
        help="checkpoints, CSV log and loss curve",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("exported_models/color.onnx"),
        help="ONNX file to write ('' to skip export)",
    )
    p.add_argument("--verbose", action="store_true")

    p = finetune_kind(
        kinds,
        "color",
        "refit a colour model on your own name,hex list",
        "training.color.finetune:finetune_color",
        base="the base: an exported colour model (its weights are read from the file)",
        data="CSV with name,hex or name,red,green,blue (repeatable)",
    )
    p.add_argument("--val-fraction", type=float, default=0.2, help="share of names held out")
    p.add_argument("--learning-rate", type=float, default=3e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=3, help="early-stopping patience (epochs)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, help="ONNX file to export to (the base is left as it is)")
    p.add_argument("--verbose", action="store_true")

    p = kinds.add(
        "export",
        "color",
        "training.color.export:export_main",
        help="re-export a colour model with native ONNX LSTMs",
    )
    p.add_argument(
        "--weights-from",
        type=Path,
        required=True,
        help="exported colour model whose weights and metadata to reuse (no training)",
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--rescore",
        type=Path,
        action="append",
        default=[],
        help="the training lists: recompute the validation metrics as the bot decodes today",
    )

    p = kinds.add("card", "color", "training.cards.color:color_card_main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--variants-table", type=Path, help="markdown table from color_variants.sh")
    p.add_argument("--compare", type=Path, help="the colour model this one replaces")
    p.add_argument(
        "--data", type=Path, action="append", default=[], help="the training lists (--compare)"
    )

    p = kinds.add("evaluate", "color", "training.color.evaluate:main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, action="append", required=True)
    p.add_argument(
        "--val-fraction",
        type=float,
        help="score only the validation names of this split (the training split: 0.1)",
    )
