"""Command-line help that states each option's default once (the bot's and the training
toolkit's parsers share it)."""

from __future__ import annotations

import argparse


def _no_default(action: argparse.Action) -> bool:
    default = action.default
    return default is None or default is False or default == argparse.SUPPRESS


class DefaultsHelp(argparse.HelpFormatter):
    """Shows an option's default, unless its help says it already or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = not _no_default(action) and action.option_strings and "default" not in text
        return f"{text} (default: %(default)s)" if shown else text


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help shows defaults; its subcommands' parsers are of the
    same class (argparse's default), so they show them too."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelp)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args, **kwargs) -> argparse.Action:
        """An option without help still shows its default (argparse skips empty help)."""
        action = super().add_argument(*args, **kwargs)
        if action.help is None and action.option_strings and not _no_default(action):
            action.help = "(default: %(default)s)"
        return action
