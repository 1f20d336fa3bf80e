"""Command line: `python -m training ACTION KIND ...` (each kind declares its options in
its `cli` module), `... data fetch`, `... recipe`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from bot.help_format import Parser
from training.data_fetch import add_parser as data_parser
from training.errors import UserError
from training.kinds import add_kinds
from training.recipe import register as recipe_parser

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m training")
    actions = parser.add_subparsers(dest="action", required=True)
    add_kinds(actions)
    data_parser(actions)
    recipe_parser(actions)
    return parser


# The packages of the `train` extra (pyproject.toml), as imported.
TRAINING_EXTRAS = ("tensorflow", "keras", "tf2onnx", "onnx", "matplotlib", "pooch")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module, function = args.handler.split(":")
    try:
        getattr(importlib.import_module(module), function)(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in TRAINING_EXTRAS:
            raise
        print(
            f"error: training needs the `train` extras ({exc.name} is missing): "
            'pip install -e ".[train]"',
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
