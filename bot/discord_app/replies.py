"""How the bot answers on Discord: one place for mention safety and error replies."""

from __future__ import annotations

import contextlib
import logging

import discord
from discord import app_commands

from bot.errors import UserFacingError

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
MESSAGE_LIMIT = 2000  # characters of message content Discord accepts
ZERO_WIDTH_SPACE = "\u200b"


def shown_text(text: str) -> str:
    """Generated text shown verbatim: markdown escaped so it cannot restyle the message,
    and every `@` followed by a zero-width space so no mention syntax survives (besides
    `allowed_mentions` none: a model can write `<@123>` or `@everyone`)."""
    return discord.utils.escape_markdown(text).replace("@", "@" + ZERO_WIDTH_SPACE)


GENERIC_ERROR = "Sorry, something went wrong on my side. The error has been logged."


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """An ephemeral reply whether or not the interaction was already deferred.

    A deferred (public) "thinking" message cannot turn ephemeral, so it is deleted first.
    The text is cut to Discord's limit whatever it holds.
    """
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    if interaction.response.is_done():
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
        await interaction.followup.send(message, ephemeral=True, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(
            message, ephemeral=True, allowed_mentions=NO_MENTIONS
        )


class InteractionGone(Exception):
    """Discord no longer knows the interaction (message deleted, token expired): the job
    was stopped, and there is nobody to tell; its token must not be used again."""


class ReplyingCommandTree(app_commands.CommandTree):
    """User errors are shown to the user; anything else is logged with its traceback."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = getattr(error, "original", error)
        if isinstance(original, InteractionGone):
            log.info("interaction gone; its job was stopped and nothing more is sent")
            return
        if isinstance(original, UserFacingError):
            message = str(original)
        elif isinstance(error, app_commands.CommandOnCooldown):
            message = f"Slow down a little: try again in {error.retry_after:.0f} s."
        elif isinstance(error, app_commands.CheckFailure):
            message = "You are not allowed to use this command here."
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed", command, exc_info=original)
            message = GENERIC_ERROR
        try:
            await send_ephemeral(interaction, message)
        except discord.HTTPException:
            log.warning("could not deliver an error reply", exc_info=True)
