"""How the bot answers on Discord: one place for mention safety and error replies."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re

import discord
from discord import app_commands

from bot.discord_app.channel_settings import channel_settings
from bot.discord_app.store.history import HistoryStore
from bot.errors import UserFacingError

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
MESSAGE_LIMIT = 2000  # characters of message content Discord accepts
ZERO_WIDTH_SPACE = "\u200b"


MARKDOWN_CHARACTERS = frozenset("\\*_~`|>#-[]()<")
NUMBERED_LINE = re.compile(r"^(\s*\d+)\.", re.MULTILINE)


def shown_text(text: str) -> str:
    """Generated text shown verbatim: every markdown character escaped (Discord shows an
    escaped character as itself) so it cannot restyle the message, and every `@`
    followed by a zero-width space so no mention syntax survives (besides
    `allowed_mentions` none: a model can write `<@123>` or `@everyone`). Every escape is
    one backslash before one character, so `plain_text` undoes it exactly."""
    escaped = "".join("\\" + c if c in MARKDOWN_CHARACTERS else c for c in text)
    escaped = NUMBERED_LINE.sub(r"\1\\.", escaped)  # "1. " would start a list
    return escaped.replace("@", "@" + ZERO_WIDTH_SPACE)


def spoilered(shown: str, spoiler: bool) -> str:
    """Behind a spoiler when the server asks (`shown` is escaped, so its own `|` are too)."""
    return f"||{shown}||" if spoiler else shown


def plain_text(shown: str) -> str:
    """The text `shown_text` was given: what a button reads back from its message."""
    unmentioned = shown.replace("@" + ZERO_WIDTH_SPACE, "@")
    return re.sub(r"\\(.)", r"\1", unmentioned, flags=re.DOTALL)


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


def error_text(interaction: discord.Interaction, error: Exception) -> str | None:
    """What to tell the user about `error` (None: nothing, the interaction is gone);
    anything not meant for users is logged with its traceback."""
    original = getattr(error, "original", error)
    if isinstance(original, InteractionGone):
        log.info("interaction gone; its job was stopped and nothing more is sent")
        return None
    if isinstance(original, UserFacingError):
        return str(original)
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) if type(error) is CommandDisabled else NOT_ALLOWED
    command = interaction.command.qualified_name if interaction.command else "a button"
    log.error("%s failed", command, exc_info=original)
    return GENERIC_ERROR


async def report_error(interaction: discord.Interaction, error: Exception) -> None:
    """Tell the user privately what went wrong (commands, menus and buttons alike)."""
    message = error_text(interaction, error)
    if message is None:
        return
    try:
        await send_ephemeral(interaction, message)
    except discord.HTTPException:
        log.warning("could not deliver an error reply", exc_info=True)


NOT_ALLOWED = "You are not allowed to use this command here; ask a server admin if you need it."


class CommandDisabled(app_commands.CheckFailure):
    """A server switched the command off here: the message says so and what to do."""


class ReplyingCommandTree(app_commands.CommandTree):
    """User errors are shown to the user; anything else is logged with its traceback.
    Commands a server switched off (`/settings`) are refused here, before they run."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        command = interaction.command
        if command is None:
            return True
        metrics = getattr(interaction.client, "metrics", None)
        if metrics is not None:
            interaction.extras["started"] = metrics.started(command.qualified_name)
        name = command.qualified_name.split()[0]
        settings = await channel_settings(interaction)
        if not settings.enabled(getattr(command, "extras", {}).get("setting", name)):
            raise CommandDisabled(
                f"/{name} is switched off in this channel by the server's admins "
                "(/settings); try another channel or ask them."
            )
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        record_finish(interaction, failed=True)
        await report_error(interaction, error)


def record_finish(interaction: discord.Interaction, failed: bool) -> None:
    """Count a finished command in the process's metrics (when it has any)."""
    metrics = getattr(interaction.client, "metrics", None)
    started = interaction.extras.get("started") if metrics is not None else None
    if started is not None and interaction.command is not None:
        metrics.finished(interaction.command.qualified_name, started, failed)


def remember(
    interaction: discord.Interaction,
    message: discord.Message,
    command: str,
    request: object | None,
    seed: int | None,
    **options: object,
) -> None:
    """Keep a generation in the asker's /history once its answer is sent (the one place
    every command records): the request's fields, the `options` that complete them, and
    the seed actually used. An image is noted, never kept. The write runs on its own, so
    the command is done when its answer is; a database failure is only logged."""
    history = getattr(interaction.client, "history", None)
    if not isinstance(history, HistoryStore):
        return
    fields = {}
    if request is not None:
        fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(request)}
    fields.pop("seed", None)
    if fields.pop("image", None) is not None:
        fields["image"] = True
    history.record_soon(interaction.user.id, command, fields | options, seed, message.jump_url)
