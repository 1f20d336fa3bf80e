"""Command-line help states each option's default once, in the bot's and the training
toolkit's parsers alike."""

from __future__ import annotations

import argparse

from bot.__main__ import build_parser as bot_parser
from training.__main__ import build_parser as training_parser


def subcommand(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = actions[0].choices[name]
    return parser


def test_finetune_help_shows_its_defaults():
    text = subcommand(training_parser(), "finetune", "write").format_help()
    assert "(default: 20)" in text  # --epochs, which has no help text of its own
    assert "(default: 3)" in text and "(default: None)" not in text


def test_bot_help_states_each_default_once():
    for name in ("paint", "write", "color"):
        text = subcommand(bot_parser(), name).format_help()
        assert "(default: None)" not in text, name
        assert "default" not in text.replace("(default", ""), name  # no "default X (default Y)"
