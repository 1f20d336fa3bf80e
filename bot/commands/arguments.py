"""A declared command's options on an argparse parser (the console and the one-shot CLI),
and the values a parsed command line gives each option."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.commands.options import IMAGE, LOCAL, Command


def add_arguments(
    parser: argparse.ArgumentParser, command: Command, helps: dict[str, str] | None = None
) -> None:
    """One argument per option offered locally; `helps` replaces the help of options
    whose text depends on what is loaded (styles, canvas sizes)."""
    helps = helps or {}
    for option in command.options_for(LOCAL):
        text = helps.get(option.name) or option.text(option.local_help or option.help)
        kind = Path if option.kind == IMAGE else option.kind
        if option.positional:
            nargs = "*" if option.kind is str else None
            parser.add_argument(option.name, type=kind, nargs=nargs, help=text)
        elif option.kind is bool:
            parser.add_argument(option.flag, action="store_true", help=text)
        else:
            default = None if option.required else option.default
            parser.add_argument(
                option.flag, dest=option.name, type=kind, default=default, help=text
            )


def option_values(command: Command, args: argparse.Namespace) -> dict[str, Any]:
    """{request attribute: value} for the options offered locally; words after the
    command are joined into one text."""
    values = {}
    for option in command.options_for(LOCAL):
        value = getattr(args, option.name)
        values[option.attribute] = " ".join(value) if isinstance(value, list) else value
    return values
