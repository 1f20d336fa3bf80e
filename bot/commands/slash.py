"""A declared command as a discord.py slash command: its options become the callback's
parameters (`Range` annotations, defaults, `describe` texts), so Discord checks each
range before the bot sees the interaction."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Optional

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bot.commands.options import DISCORD, IMAGE, Command, Option

Handler = Callable[..., Awaitable[None]]  # (cog, interaction, **options)


def number(value: int | float, language: str = "en") -> str:
    """A number as a description in `language` writes it: 1,500 / 1 500 / 1.500; 0.1 /
    0,1 / 0,1."""
    if isinstance(value, float):
        text = f"{value:g}"
        return text if language == "en" else text.replace(".", ",")
    separator = {"en": ",", "fr": " ", "de": "."}.get(language, ",")
    return f"{value:,}".replace(",", separator)


def localised(template: str, option: Option | None = None) -> locale_str:
    """A description for discord.py: the English text, with the template as the key the
    translator looks up and the numbers it fills in."""
    if option is None:
        return locale_str(template, key=template)
    english = option.text(template, number)
    return locale_str(english, key=template, values={**option.values(lambda v: v)})


def annotation(option: Option) -> Any:
    if option.kind == IMAGE:
        kind: Any = discord.Attachment
    elif option.high is not None:
        low = option.low if option.low is not None else 0
        kind = app_commands.Range[option.kind, low, option.high]
    else:
        kind = option.kind
    return kind if option.required else Optional[kind]  # noqa: UP045 (a runtime object)


def signature(command: Command) -> inspect.Signature:
    """(self, interaction, *options), as the cog's callback takes them."""
    here = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [
        inspect.Parameter("self", here),
        inspect.Parameter("interaction", here, annotation=discord.Interaction),
    ]
    for option in command.options_for(DISCORD):
        default = inspect.Parameter.empty if option.required else option.default
        parameters.append(
            inspect.Parameter(option.name, here, annotation=annotation(option), default=default)
        )
    return inspect.Signature(parameters)


def slash_command(command: Command) -> Callable[[Handler], app_commands.Command]:
    """Decorates a cog method `(self, interaction, **options)` as the declared command;
    the options arrive by name, with their declared defaults filled in."""

    def decorate(handler: Handler) -> app_commands.Command:
        declared = signature(command)

        @functools.wraps(handler)
        async def callback(self, interaction: discord.Interaction, *args, **kwargs) -> None:
            bound = declared.bind(self, interaction, *args, **kwargs)
            bound.apply_defaults()
            options = dict(bound.arguments)
            del options["self"], options["interaction"]
            await handler(self, interaction, **options)

        callback.__signature__ = declared
        built = app_commands.command(name=command.name, description=localised(command.description))(
            callback
        )
        texts = {o.name: localised(o.help, o) for o in command.options_for(DISCORD)}
        return app_commands.describe(**texts)(built)

    return decorate
