"""Command line: `python -m training {train,evaluate} KIND ...`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from training.errors import UserError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _color_train_parser(sub) -> None:
    from training.color.variants import DEFAULT_VARIANT, VARIANTS

    p = sub.add_parser("color", help="colour name -> RGB regressor")
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


def _write_train_parser(sub) -> None:
    p = sub.add_parser("write", help="character language model of a writing style")
    p.add_argument(
        "--data", type=Path, action="append", required=True, help="UTF-8 text file (repeatable)"
    )
    p.add_argument("--style", required=True, help="style name shown to users, e.g. shakespeare")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=4, help="early-stopping patience (epochs)")
    p.add_argument(
        "--val-chunk",
        type=int,
        default=10_000,
        help="validation holds out whole chunks of this many characters",
    )
    p.add_argument("--val-every", type=int, default=10, help="every Nth chunk is validation")
    p.add_argument(
        "--sample-length",
        type=int,
        default=200,
        help="characters sampled after each epoch (0: none)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--out", type=Path, help="ONNX file to export to when training ends")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training")
    actions = parser.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train a model and export it to ONNX")
    train_kinds = train.add_subparsers(dest="kind", required=True)
    _color_train_parser(train_kinds)
    _write_train_parser(train_kinds)

    export = actions.add_parser("export", help="export a training run's best weights to ONNX")
    export_kinds = export.add_subparsers(dest="kind", required=True)
    p = export_kinds.add_parser("write")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)

    card = actions.add_parser("card", help="write a model card next to an exported model")
    card_kinds = card.add_subparsers(dest="kind", required=True)
    p = card_kinds.add_parser("write")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--data", type=Path, action="append", required=True)
    p.add_argument("--prompt", default="")
    p.add_argument("--note", default="", help="a sentence to add under Training")
    p = card_kinds.add_parser("color")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--variants-table", type=Path, help="markdown table from color_variants.sh")

    evaluate = actions.add_parser("evaluate", help="score an exported ONNX model on data")
    eval_kinds = evaluate.add_subparsers(dest="kind", required=True)
    p = eval_kinds.add_parser("color")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, action="append", required=True)
    p = eval_kinds.add_parser("write")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, action="append", required=True)
    p.add_argument(
        "--streams",
        type=int,
        default=64,
        help="the text is scored as this many parallel streams (speed only)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if (args.action, args.kind) == ("train", "color"):
            from training.color.train import train_color

            if args.out == Path(""):
                args.out = None
            train_color(args)
        elif (args.action, args.kind) == ("evaluate", "color"):
            from training.color.evaluate import main as evaluate_main

            evaluate_main(args)
        elif (args.action, args.kind) == ("train", "write"):
            from training.write import train_write

            train_write(args)
        elif (args.action, args.kind) == ("export", "write"):
            from training.write import export_write

            export_write(args.run_dir, args.out)
        elif (args.action, args.kind) == ("card", "write"):
            from training.cards import write_card

            write_card(args.model, args.run_dir, args.data, args.prompt, args.note)
        elif (args.action, args.kind) == ("card", "color"):
            from training.cards import color_card

            color_card(args.model, args.run_dir, args.variants_table)
        elif (args.action, args.kind) == ("evaluate", "write"):
            from training.charlm.evaluate import main as evaluate_main

            evaluate_main(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
