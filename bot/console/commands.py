"""The table of local commands: each declaration (`bot.commands`) with what it does
(`actions`), turned into the argument parsers the console and the one-shot CLI share."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.commands import CAPTION, COLOR, MODELS, NAME, PAINT, PALETTE, WRITE, Command
from bot.commands.arguments import add_arguments
from bot.console.actions import (
    caption_payload,
    caption_text,
    color_payload,
    color_text,
    models_payload,
    models_text,
    name_payload,
    name_text,
    paint_payload,
    paint_text,
    palette_payload,
    palette_text,
    size_help,
    style_help,
    write_payload,
    write_text,
)
from bot.errors import UserFacingError
from bot.help_format import DefaultsHelp
from bot.services import Services


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


class ArgumentError(UserFacingError):
    """A command line that does not parse (shown as an error, JSON with --json)."""


class QuietParser(argparse.ArgumentParser):
    """Argument errors raise instead of printing usage and exiting."""

    def error(self, message: str):
        raise ArgumentError(f"{message} (see --help)")


def no_helps(services: Services | None) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class LocalCommand:
    declared: Command
    payload: Callable[..., dict]  # (services, args, output folder[, shown]) -> JSON-ready
    text: Callable[[dict, bool], str]
    helps: Callable[[Services | None], dict[str, str]] = no_helps  # help that names models
    saves: str = ""  # the PNG --out names by default ("" when the command saves none)
    streams: bool = False  # its payload takes `shown(text_so_far)` and has a "text"

    @property
    def help(self) -> str:
        return self.declared.summary

    def arguments(self, parser: argparse.ArgumentParser, services: Services | None) -> None:
        add_arguments(parser, self.declared, self.helps(services))
        if self.saves:
            parser.add_argument(
                "--out",
                type=Path,
                help=f"PNG path in an existing folder (default out/{self.saves})",
            )

    def add_parser(
        self, subparsers, name: str, services: Services | None
    ) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(
            name,
            help=self.help,
            description=self.help,
            formatter_class=DefaultsHelp,
        )
        self.arguments(parser, services)
        _json_flag(parser)
        return parser


LOCAL_COMMANDS = {
    c.declared.name: c
    for c in (
        LocalCommand(COLOR, color_payload, color_text, saves="color-NAME.png"),
        LocalCommand(WRITE, write_payload, write_text, style_help, streams=True),
        LocalCommand(CAPTION, caption_payload, caption_text),
        LocalCommand(PAINT, paint_payload, paint_text, size_help, saves="paint-SEED.png"),
        LocalCommand(NAME, name_payload, name_text, saves="name-HEX.png"),
        LocalCommand(PALETTE, palette_payload, palette_text, saves="palette-NAME.png"),
        LocalCommand(MODELS, models_payload, models_text),
    )
}
