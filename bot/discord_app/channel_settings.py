"""Per-user cooldowns and the per-interaction reads of `/settings`.

Each command's cooldown is declared with it (`bot.commands`); the environment overrides
it when a command runs, e.g. RNNBOT_COOLDOWN_PAINT="2/60" ("0/0" disables it), and a
server per server or channel with `/settings set cooldown.paint 2/60`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import discord
from discord import app_commands

from bot.commands import COMMANDS
from bot.config import cooldown_override
from bot.contract.trained import StyleScope
from bot.discord_app.store.settings import DEFAULTS as DEFAULT_SETTINGS
from bot.discord_app.store.settings import ChannelSettings, SettingsStore, parse_cooldown

SETTINGS_EXTRA = "rnnbot.channel_settings"  # the keys in `Interaction.extras`
SCOPE_EXTRA = "rnnbot.style_scope"
T = TypeVar("T")


def cooldown_for(command: str) -> tuple[int, float]:
    """The environment's cooldown for `command`, else the one declared with it."""
    raw = cooldown_override(command)
    return parse_cooldown(raw) if raw else COMMANDS[command].cooldown


def settings_store(interaction: discord.Interaction) -> SettingsStore | None:
    """The bot's settings database; None for a client without one (scripts, benchmarks)."""
    store = getattr(getattr(interaction, "client", None), "server_settings", None)
    return store if isinstance(store, SettingsStore) else None


async def channel_settings(interaction: discord.Interaction) -> ChannelSettings:
    """What `/settings` says for the interaction's channel (defaults without a store).
    The enabled check, the cooldown's key and bucket, the spoiler and the default style
    all ask during one request."""

    async def read(store: SettingsStore) -> ChannelSettings:
        return await store.channel(interaction.guild_id, interaction.channel_id)

    return await _once(interaction, SETTINGS_EXTRA, read, DEFAULT_SETTINGS)


async def style_scope(interaction: discord.Interaction) -> StyleScope:
    """The trained styles this interaction may use: its server's own and the published
    ones (`bot.contract.trained`)."""

    async def read(store: SettingsStore) -> StyleScope:
        return await store.scope(interaction.guild_id)

    return await _once(interaction, SCOPE_EXTRA, read, StyleScope(interaction.guild_id))


async def _once(
    interaction: discord.Interaction,
    key: str,
    read: Callable[[SettingsStore], Awaitable[T]],
    without_store: T,
) -> T:
    """Read from the settings store once per interaction, kept in its `extras`; the
    `without_store` answer for a client without a store (scripts, benchmarks)."""
    extras = getattr(interaction, "extras", None)
    if extras is not None and key in extras:
        return extras[key]
    store = settings_store(interaction)
    value = without_store if store is None else await read(store)
    if extras is not None:
        extras[key] = value
    return value


async def channel_cooldown(interaction: discord.Interaction, command: str) -> tuple[int, float]:
    """The channel's override from `/settings`, else the bot's own cooldown."""
    override = (await channel_settings(interaction)).cooldown(command)
    return override if override is not None else cooldown_for(command)


def per_user_cooldown(command: str):
    """An app_commands check: at most `rate` uses per `per` seconds per user (as the
    channel's settings or the environment say). The bucket's key carries the rate, so a
    changed setting takes effect at once instead of when the old bucket expires."""

    async def key(interaction: discord.Interaction) -> tuple[int, tuple[int, float]]:
        return interaction.user.id, await channel_cooldown(interaction, command)

    async def factory(interaction: discord.Interaction) -> app_commands.Cooldown | None:
        rate, per = await channel_cooldown(interaction, command)
        return app_commands.Cooldown(rate, per) if rate > 0 else None

    return app_commands.checks.dynamic_cooldown(factory, key=key)
