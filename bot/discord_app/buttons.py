"""What every answer's buttons share: they survive restarts, and they play by the rules.

A button is a `discord.ui.DynamicItem`: everything it needs (command, model, seed,
options, who asked) is in its `custom_id` (at most 100 characters), so no state is kept
in memory and a restarted bot still answers it. A press is checked like a command: the
command must be enabled in the channel, only the person who asked may press unless the
server lets anyone (`/settings buttons`), and presses have a per-user cooldown. A press
whose model is gone switches the message's buttons off and says so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord
from discord.ext import commands

from bot.discord_app.channel_settings import channel_cooldown, channel_settings
from bot.discord_app.replies import NO_MENTIONS, report_error, send_ephemeral
from bot.errors import ModelGone, UserFacingError

log = logging.getLogger(__name__)

CUSTOM_ID_LIMIT = 100  # characters Discord allows in a custom_id


class NotYours(UserFacingError):
    pass


class PressCooldowns:
    """Per-user press cooldowns with each command's rate (its own bucket, as the command's).

    discord.py's cooldown mapping holds the buckets and forgets those that have expired;
    the key carries the rate, so a changed `/settings` cooldown applies at once."""

    def __init__(self) -> None:
        self._mapping = commands.DynamicCooldownMapping(
            lambda key: discord.app_commands.Cooldown(key[2], key[3]), lambda key: key
        )

    def hit(self, command: str, user_id: int, rate: int, per: float) -> float | None:
        """Seconds to wait, or None when the press may go ahead."""
        if rate <= 0:
            return None
        return self._mapping.update_rate_limit((command, user_id, rate, per))


def answer_button(emoji: str, label: str, custom_id: str) -> discord.ui.Button:
    """The look every answer's buttons share (grey, an emoji and a word)."""
    return discord.ui.Button(
        style=discord.ButtonStyle.secondary, emoji=emoji, label=label, custom_id=custom_id
    )


def fits(custom_id: str) -> bool:
    return len(custom_id) <= CUSTOM_ID_LIMIT


async def check_press(interaction: discord.Interaction, command: str, owner_id: int) -> None:
    """Refuse (with a user-facing error) a press the channel's settings do not allow."""
    settings = await channel_settings(interaction)
    if not settings.enabled(command):
        raise UserFacingError(f"/{command} is switched off in this channel by the server's admins.")
    if interaction.user.id != owner_id and not settings.anyone_may_press:
        raise NotYours(
            f"Only the person who asked can use these buttons here; run /{command} yourself."
        )
    rate, per = await channel_cooldown(interaction, command)
    cooldowns = getattr(interaction.client, "press_cooldowns", None)
    if cooldowns is not None:
        wait = cooldowns.hit(command, interaction.user.id, rate, per)
        if wait is not None:
            raise UserFacingError(f"Slow down a little: try again in {wait:.0f} s.")


async def switch_off(interaction: discord.Interaction, why: str) -> None:
    """Disable every button on the pressed message and tell the presser why, privately."""
    view = discord.ui.View.from_message(interaction.message, timeout=None)
    for item in view.children:
        if isinstance(item, discord.ui.Button):
            item.disabled = True
    if not interaction.response.is_done():
        await interaction.response.edit_message(view=view)
    else:
        await interaction.message.edit(view=view)
    await interaction.followup.send(
        f"{why} These buttons are switched off.", ephemeral=True, allowed_mentions=NO_MENTIONS
    )


async def handle_press(
    interaction: discord.Interaction,
    command: str,
    owner_id: int,
    work: Callable[[], Awaitable[None]],
) -> None:
    """Check the press, run `work`, and turn any failure into a private reply."""
    metrics = getattr(interaction.client, "metrics", None)
    label = f"{command} (button)"
    started = metrics.started(label) if metrics is not None else None
    failed = True
    try:
        await check_press(interaction, command, owner_id)
        await work()
        failed = False
    except ModelGone as error:  # a passing outage (ModelUnavailable) leaves them on
        try:
            await switch_off(interaction, str(error))
        except discord.HTTPException:
            await send_ephemeral(interaction, str(error))
    except Exception as error:  # every failure reaches the user; the bot stays up
        await report_error(interaction, error)
    finally:
        if started is not None:
            metrics.finished(label, started, failed)
