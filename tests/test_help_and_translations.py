"""/help's embed and the French and German command-picker translations."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import discord
import pytest
from discord import app_commands
from discord.app_commands import TranslationContext, TranslationContextLocation, locale_str

from bot.discord_app.cogs.admin import AdminCog
from bot.discord_app.cogs.caption import CaptionCog
from bot.discord_app.cogs.color import ColorCog
from bot.discord_app.cogs.help import HELP_DESCRIPTION, HelpCog, help_embed
from bot.discord_app.cogs.name import NameCog
from bot.discord_app.cogs.paint import PaintCog
from bot.discord_app.cogs.palette import PaletteCog
from bot.discord_app.cogs.settings import SettingsCog
from bot.discord_app.cogs.train import TrainCog
from bot.discord_app.cogs.write import WriteCog
from bot.discord_app.translations import (
    CONTEXT_MENU_LIMIT,
    DESCRIPTION_LIMIT,
    FRENCH,
    GERMAN,
    BotTranslator,
    missing_translations,
)

LIMITS = {"color": (5, 10.0), "write": (2, 30.0), "caption": (3, 30.0), "paint": (1, 30.0)}
LIMITS["name"] = (0, 0.0)
LIMITS["palette"] = (3, 30.0)
EXAMPLES = {
    "/color": "/color name:sunset over the bay",
    "/write": "/write style:shakespeare prompt:ROMEO: length:400",
    "/caption": "/caption image:<attach a photo>",
    "/paint": "/paint seed:7",
    "/name": "/name color:#7a9e3b",
    "/palette": "/palette image:<attach a photo>",
}
CONTEXT_MENUS = (
    "Caption this image",
    "Continue this text",
    "Caption their avatar",
    "Palette of this image",
)


def fields(embed: discord.Embed) -> dict[str, str]:
    return {field.name: field.value for field in embed.fields}


def test_help_has_every_command_with_an_example_within_discords_limits():
    embed = help_embed(LIMITS, max_waiting=32)
    by_name = fields(embed)
    assert list(by_name) == [*EXAMPLES, "Right-click", "Buttons", "Admins"]
    for command, example in EXAMPLES.items():
        assert f"`{example}`" in by_name[command]
    assert len(embed) < 6000
    assert all(len(value) <= 1024 for value in by_name.values())


def test_help_states_the_limits_and_cooldowns_it_is_given():
    embed = help_embed(LIMITS, max_waiting=7)
    by_name = fields(embed)
    assert "50 to 1,500 characters" in by_name["/write"]
    assert "prompt up to 500" in by_name["/write"]
    assert "1 to 5 captions" in by_name["/caption"]
    assert "PNG, JPEG, WebP or GIF, up to 8 MB" in by_name["/caption"]
    assert "up to 100 characters" in by_name["/color"]
    assert "5 uses per 10 s" in by_name["/color"]
    assert "1 use per 30 s" in by_name["/paint"]
    assert "no cooldown" in by_name["/name"]
    assert "waiting line of 7 per model" in embed.description
    assert all(menu in by_name["Right-click"] for menu in CONTEXT_MENUS)
    assert all(f"/{name}" in by_name["Admins"] for name in ("settings", "reload", "models"))


def test_help_command_answers_privately_with_the_bots_waiting_line(monkeypatch):
    monkeypatch.setenv("RNNBOT_COOLDOWN_WRITE", "4/60")
    sent: dict = {}

    async def send_message(**kwargs):
        sent.update(kwargs)

    client = SimpleNamespace(services=SimpleNamespace(settings=SimpleNamespace(max_waiting=9)))
    interaction = SimpleNamespace(
        client=client, response=SimpleNamespace(send_message=send_message)
    )
    cog = HelpCog(client)
    asyncio.run(HelpCog.show_help.callback(cog, interaction))
    assert sent["ephemeral"] is True
    assert sent["allowed_mentions"].to_dict()["parse"] == []
    assert "waiting line of 9 per model" in sent["embed"].description
    assert "4 uses per 60 s" in fields(sent["embed"])["/write"]


def empty_tree() -> app_commands.CommandTree:
    return app_commands.CommandTree(discord.Client(intents=discord.Intents.none()))


async def caption_this_image(interaction: discord.Interaction, message: discord.Message):
    """Stands in for the real context menu: only its name matters here."""


def dummy_tree() -> app_commands.CommandTree:
    """A /color, a /settings group and a context menu worded as the real ones."""
    tree = empty_tree()

    @tree.command(name="color", description="Show the colour a name evokes")
    @app_commands.describe(name="A colour name, real or invented (e.g. forest)")
    async def color(interaction: discord.Interaction, name: str) -> None: ...

    settings = app_commands.Group(
        name="settings", description="Server and channel settings for this bot"
    )

    @settings.command(
        name="set", description="Change a setting for the whole server or one channel"
    )
    @app_commands.describe(
        setting="What to change",
        value="The new value",
        here=locale_str("Only in this channel (default: the whole server)"),
    )
    async def set_setting(
        interaction: discord.Interaction, setting: str, value: str, here: bool = False
    ) -> None: ...

    tree.add_command(settings)
    tree.add_command(
        app_commands.ContextMenu(name="Caption this image", callback=caption_this_image)
    )
    return tree


def test_missing_translations_is_empty_for_covered_strings():
    assert missing_translations(dummy_tree()) == {"fr": [], "de": []}


def test_missing_translations_reports_an_uncovered_description():
    tree = dummy_tree()

    @tree.command(name="dance", description="Dance a little jig")
    @app_commands.describe(steps="How many steps to take")
    async def dance(interaction: discord.Interaction, steps: int) -> None: ...

    expected = ["Dance a little jig", "How many steps to take"]
    assert missing_translations(tree) == {"fr": expected, "de": expected}


def test_every_shipped_command_is_translated():
    tree = empty_tree()
    cogs = (ColorCog, WriteCog, CaptionCog, PaintCog, NameCog, PaletteCog, AdminCog, HelpCog)
    for cog in cogs:
        for command in cog.__cog_app_commands__:
            tree.add_command(command)
    tree.add_command(SettingsCog(None).app_command)
    tree.add_command(TrainCog(None).app_command)
    for menu in PaletteCog(None).context_menus():
        tree.add_command(menu)
    assert missing_translations(tree) == {"fr": [], "de": []}


def translate(text: str, locale: discord.Locale, location: TranslationContextLocation, data=None):
    context = TranslationContext(location=location, data=data)
    return asyncio.run(BotTranslator().translate(locale_str(text), locale, context))


DESCRIPTION = TranslationContextLocation.command_description


def test_translator_translates_descriptions_into_french_and_german():
    text = "Write new text in a learned style"
    assert translate(text, discord.Locale.french, DESCRIPTION) == FRENCH[text]
    assert translate(text, discord.Locale.german, DESCRIPTION) == GERMAN[text]
    assert FRENCH[text] != text


def test_translator_leaves_other_languages_and_unknown_strings_to_discord():
    assert (
        translate("Write new text in a learned style", discord.Locale.japanese, DESCRIPTION) is None
    )
    assert translate("Not a string the bot uses", discord.Locale.french, DESCRIPTION) is None


@pytest.mark.parametrize(
    "location",
    [
        TranslationContextLocation.command_name,
        TranslationContextLocation.parameter_name,
        TranslationContextLocation.group_name,
    ],
)
def test_translator_never_translates_typed_names(location):
    assert translate("Write new text in a learned style", discord.Locale.french, location) is None


def test_translator_translates_context_menu_names():
    menu = app_commands.ContextMenu(name="Caption this image", callback=caption_this_image)
    name = TranslationContextLocation.command_name
    assert translate(menu.name, discord.Locale.german, name, menu) == GERMAN[menu.name]


def test_synced_payload_localises_descriptions_but_not_names():
    tree = dummy_tree()
    color = tree.get_command("color")
    payload = asyncio.run(color.get_translated_payload(tree, BotTranslator()))
    assert payload["name_localizations"] == {}
    assert payload["description_localizations"] == {
        "fr": FRENCH["Show the colour a name evokes"],
        "de": GERMAN["Show the colour a name evokes"],
    }
    option = payload["options"][0]
    assert "name_localizations" not in option
    assert option["description_localizations"]["fr"].startswith("Un nom de couleur")


def test_both_languages_cover_the_same_strings():
    assert FRENCH.keys() == GERMAN.keys()
    assert HELP_DESCRIPTION in FRENCH


@pytest.mark.parametrize("table", [FRENCH, GERMAN], ids=["fr", "de"])
def test_translations_fit_discords_limits(table):
    for english, translated in table.items():
        limit = CONTEXT_MENU_LIMIT if english in CONTEXT_MENUS else DESCRIPTION_LIMIT
        assert 0 < len(translated) <= limit, (english, translated)
        assert len(english) <= limit
