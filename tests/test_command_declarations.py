"""Every front end agrees with the command declarations (`bot.commands`): the Discord
command each cog syncs, the console's and the CLI's help and defaults, /help, and the
request each service takes."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re

import discord
import pytest
from discord import app_commands

from bot.__main__ import build_parser
from bot.caption.service import CaptionRequest
from bot.commands import COMMANDS, DISCORD, IMAGE, LOCAL, PUBLIC, Command, Option
from bot.commands.options import plain_number
from bot.commands.slash import number
from bot.console.loop import Console
from bot.discord_app.cogs.admin import AdminCog
from bot.discord_app.cogs.caption import CaptionCog
from bot.discord_app.cogs.color import ColorCog
from bot.discord_app.cogs.help import help_embed
from bot.discord_app.cogs.name import NameCog
from bot.discord_app.cogs.paint import PaintCog
from bot.discord_app.cogs.palette import PaletteCog
from bot.discord_app.cogs.write import WriteCog
from bot.name.service import NameRequest
from bot.paint.service import PaintRequest
from bot.write.service import WriteRequest

COGS = (ColorCog, WriteCog, CaptionCog, PaintCog, NameCog, PaletteCog, AdminCog)
REQUESTS = {"write": WriteRequest, "caption": CaptionRequest, "paint": PaintRequest}
REQUESTS["name"] = NameRequest
OPTION_TYPES = {str: 3, int: 4, bool: 5, float: 10, IMAGE: 11}  # Discord's option types


def slash_commands() -> dict[str, app_commands.Command]:
    return {c.name: c for cog in COGS for c in cog.__cog_app_commands__}


def payload(command: app_commands.Command) -> dict:
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))
    tree.add_command(command)
    return command.to_dict(tree)


def on_discord() -> list[Command]:
    return [c for c in COMMANDS.values() if DISCORD in c.where]


def local() -> list[Command]:
    return [c for c in COMMANDS.values() if LOCAL in c.where]


def test_every_declared_discord_command_is_a_cogs_command():
    assert {c.name for c in on_discord()} <= set(slash_commands())
    assert set(PUBLIC) == {"color", "write", "caption", "paint", "name", "palette"}


@pytest.mark.parametrize("declared", on_discord(), ids=lambda c: c.name)
def test_the_synced_command_is_the_declaration(declared: Command):
    command = slash_commands()[declared.name]
    synced = payload(command)
    assert synced["description"] == declared.description
    options = {o["name"]: o for o in synced.get("options", [])}
    wanted = declared.options_for(DISCORD)
    assert set(options) == {o.name for o in wanted}
    for option in wanted:
        sent = options[option.name]
        assert sent["type"] == OPTION_TYPES[option.kind], option.name
        assert sent["required"] == option.required, option.name
        assert sent["description"] == option.text(number=number), option.name
        if option.kind is str:
            assert sent.get("max_length") == option.high, option.name
            assert sent.get("min_length") == (None if option.high is None else option.low or 0)
        elif option.kind in (int, float):
            assert sent.get("min_value") == option.low, option.name
            assert sent.get("max_value") == option.high, option.name
    # The callback's defaults (what a missing option becomes) are the declared ones.
    parameters = inspect.signature(command.callback).parameters
    for option in wanted:
        default = parameters[option.name].default
        expected = inspect.Parameter.empty if option.required else option.default
        assert default == expected, option.name


def cli_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def console_parsers(tmp_path) -> dict[str, argparse.ArgumentParser]:
    return Console(None, tmp_path).parsers


def check_local_help(declared: Command, parser: argparse.ArgumentParser) -> None:
    text = " ".join(parser.format_help().split())
    actions = {a.dest: a for a in parser._actions}
    for option in declared.options_for(LOCAL):
        assert option.name in actions, option.name
        action = actions[option.name]
        if not option.positional:
            assert option.flag in action.option_strings
            assert action.default == (None if option.required else option.default), option.name
        for bound in (option.low, option.high):
            shown = f"{plain_number(bound)}" if bound is not None else ""
            if shown and option.local_help and "{" in option.local_help:
                assert re.search(rf"(?<![\d.]){re.escape(shown)}(?![\d.])", text), (
                    option.name,
                    shown,
                )
        if action.default not in (None, False, []) and not option.positional:
            assert f"default: {action.default}" in text, option.name
    assert declared.summary in text


@pytest.mark.parametrize("declared", local(), ids=lambda c: c.name)
def test_the_cli_help_is_the_declaration(declared: Command):
    check_local_help(declared, cli_parsers()[declared.name])


@pytest.mark.parametrize("declared", local(), ids=lambda c: c.name)
def test_the_console_help_is_the_declaration(declared: Command, tmp_path):
    check_local_help(declared, console_parsers(tmp_path)[declared.name])


def english(value: int | float) -> str:
    return number(value)


def test_help_states_each_declared_limit_and_example():
    cooldowns = {name: COMMANDS[name].cooldown for name in PUBLIC}
    fields = {f.name: f.value for f in help_embed(cooldowns, max_waiting=3).fields}
    for name in PUBLIC:
        declared, value = COMMANDS[name], fields[f"/{name}"]
        assert declared.about in value and f"`{declared.example}`" in value
        # Every number /help states is an option's, filled in: none written by hand.
        assert not re.search(r"\d", re.sub(r"\{[^}]*\}", "", declared.limits)), name
        for option in declared.options:
            for bound in ("low", "high"):
                if f"{{{option.name}.{bound}" in declared.limits:
                    assert english(getattr(option, bound)) in value, (name, option.name)
        uses, seconds = declared.cooldown
        assert f"per {seconds:g} s" in value


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_each_request_defaults_to_the_declared_defaults(name: str):
    fields = {f.name: f for f in dataclasses.fields(REQUESTS[name])}
    for option in COMMANDS[name].options:
        assert option.attribute in fields, option.name
        default = fields[option.attribute].default
        if default is dataclasses.MISSING:  # the front end resolves it (a style)
            assert option.required or option.default is None, option.name
        elif option.kind != IMAGE:
            assert default == option.default, option.name


def test_a_value_outside_its_range_is_refused_with_a_clear_error():
    from bot.errors import InvalidInput

    temperature: Option = COMMANDS["write"]["temperature"]
    with pytest.raises(InvalidInput, match="temperature must be between 0 and 2"):
        temperature.check(temperature.high + 0.1)
    temperature.check(temperature.high)
