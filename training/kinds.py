"""Every model kind's command line together: `python -m training ACTION KIND ...`."""

from __future__ import annotations

import argparse

from training import write_cli
from training.caption import cli as caption_cli
from training.cli import Kinds
from training.color import cli as color_cli
from training.name import cli as name_cli
from training.paint import cli as paint_cli

KINDS = (color_cli, write_cli, caption_cli, paint_cli, name_cli)


def add_kinds(actions: argparse._SubParsersAction) -> None:
    """The actions (`train`, `evaluate`, ...) with each kind's subcommand and options."""
    kinds = Kinds(actions)
    for kind in KINDS:
        kind.register(kinds)
