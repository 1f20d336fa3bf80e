"""The /color cog and the error handler with a mocked discord.Interaction."""

import asyncio
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest
from discord import app_commands

from bot.discord_app.cogs.color import ColorCog
from bot.discord_app.replies import GENERIC_ERROR, ReplyingCommandTree
from bot.errors import InvalidInput


def fake_interaction() -> MagicMock:
    interaction = MagicMock(spec=discord.Interaction)
    state = {"done": False}
    interaction.response = MagicMock()
    interaction.response.is_done = MagicMock(side_effect=lambda: state["done"])

    async def defer(**kwargs):
        state["done"] = True

    interaction.response.defer = AsyncMock(side_effect=defer)
    interaction.response.send_message = AsyncMock()
    interaction.followup = MagicMock()
    interaction.followup.send = AsyncMock()
    interaction.delete_original_response = AsyncMock()
    interaction.command = MagicMock(qualified_name="color")
    interaction.created_at = discord.utils.utcnow()
    interaction.edit_original_response = AsyncMock()
    interaction.user = MagicMock(id=12345)
    return interaction


def run(coro):
    return asyncio.run(coro)


def test_color_defers_then_sends_embed_and_swatch(services):
    cog = ColorCog(services.color)
    interaction = fake_interaction()
    run(cog.color.callback(cog, interaction, "forest"))
    interaction.response.defer.assert_awaited_once()
    kwargs = interaction.followup.send.await_args.kwargs
    embed, file = kwargs["embed"], kwargs["file"]
    assert embed.title == "forest"
    assert embed.colour == discord.Colour.from_rgb(34, 139, 34)
    assert {f.name: f.value for f in embed.fields}["Hex"] == "`#228b22`"
    assert file.filename == "swatch.png"
    assert embed.image.url == "attachment://swatch.png"
    mentions = kwargs["allowed_mentions"]
    assert not (mentions.everyone or mentions.users or mentions.roles)


def test_bad_name_raises_before_defer_and_handler_replies_ephemeral(services):
    cog = ColorCog(services.color)
    interaction = fake_interaction()
    with pytest.raises(InvalidInput) as caught:
        run(cog.color.callback(cog, interaction, "   "))
    interaction.response.defer.assert_not_awaited()
    tree = ReplyingCommandTree(discord.Client(intents=discord.Intents.none()))
    error = app_commands.CommandInvokeError(cog.color, caught.value)
    run(tree.on_error(interaction, error))
    args, kwargs = interaction.response.send_message.await_args
    assert "Give a colour name" in args[0]
    assert kwargs["ephemeral"] is True


def test_unexpected_error_after_defer_is_logged_and_ephemeral(caplog):
    interaction = fake_interaction()
    run(interaction.response.defer())
    tree = ReplyingCommandTree(discord.Client(intents=discord.Intents.none()))
    command = MagicMock()
    error = app_commands.CommandInvokeError(command, RuntimeError("boom"))
    run(tree.on_error(interaction, error))
    interaction.delete_original_response.assert_awaited_once()
    args, kwargs = interaction.followup.send.await_args
    assert args[0] == GENERIC_ERROR and kwargs["ephemeral"] is True
    assert "RuntimeError: boom" in caplog.text


def test_unavailable_model_message(tmp_path):
    from bot.config import Settings
    from bot.services import Services

    services = Services.start(Settings(model_dir=tmp_path, prefer_gpu=False))
    cog = ColorCog(services.color)
    with pytest.raises(Exception, match="color model is unavailable"):
        run(cog.color.callback(cog, fake_interaction(), "forest"))


def test_autocomplete(services):
    cog = ColorCog(services.color)
    choices = run(cog.color_name_autocomplete.__func__(cog, fake_interaction(), "light"))
    assert [c.value for c in choices] == ["light blue", "light green", "light red"]
