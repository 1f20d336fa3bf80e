"""Command line: `python -m training {train,evaluate} KIND ...`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from training.errors import UserError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _color_train_parser(sub) -> None:
    from training.color.model import DEFAULT_VARIANT, VARIANTS

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training")
    actions = parser.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train a model and export it to ONNX")
    train_kinds = train.add_subparsers(dest="kind", required=True)
    _color_train_parser(train_kinds)

    evaluate = actions.add_parser("evaluate", help="score an exported ONNX model on data")
    eval_kinds = evaluate.add_subparsers(dest="kind", required=True)
    p = eval_kinds.add_parser("color")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, action="append", required=True)
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
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
