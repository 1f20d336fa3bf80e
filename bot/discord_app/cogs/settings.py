"""`/settings`: what a server (or one of its channels) changes about the bot.

Server-only and for people with Manage Server: the group is `guild_only`, its default
permissions hide it from everyone else, and a check refuses anyone who gets past that.

`set` and `reset` defer (ephemeral) before they write: a write can wait on a locked
database for its busy timeout, and writes wait for each other, which together outlast
Discord's 3 s for the first response. The answer, or the error, follows.
"""

from __future__ import annotations

from zoneinfo import available_timezones

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.cogs.admin import require_manage, server_admin_only
from bot.discord_app.cogs.daily import Clock, utc_now
from bot.discord_app.replies import NO_MENTIONS
from bot.discord_app.store.daily import (
    DAILY_COMMANDS,
    DailyPost,
    DailyStore,
    parse_time,
    parse_zone,
)
from bot.discord_app.store.settings import BUTTON_POLICIES, KEYS, SERVER_WIDE, SettingsStore

KEY_HELP = {
    "enabled.": "on or off",
    "cooldown.": "uses/seconds, e.g. 2/30 (0/0: none)",
    "write_style": "a style name, e.g. shakespeare",
    "buttons": " or ".join(BUTTON_POLICIES),
    "spoiler": "on or off (generated text hidden behind a spoiler)",
}


def key_help(key: str) -> str:
    return next(text for prefix, text in KEY_HELP.items() if key.startswith(prefix))


def settings_embed(
    rows: list[tuple[int, str, str]], channel_id: int | None, daily: DailyPost | None = None
) -> discord.Embed:
    """The server's own values, then this channel's overrides (unset keys use defaults),
    then the channel's daily post."""
    server = [f"`{key}` = `{value}`" for channel, key, value in rows if channel == SERVER_WIDE]
    here = [f"`{key}` = `{value}`" for channel, key, value in rows if channel == channel_id]
    embed = discord.Embed(title="Settings")
    embed.add_field(name="Whole server", value="\n".join(server)[:1024] or "defaults", inline=False)
    embed.add_field(
        name="This channel", value="\n".join(here)[:1024] or "as the server", inline=False
    )
    shown = f"{daily.command} at {daily.at:%H:%M} ({daily.timezone})" if daily else "none"
    embed.add_field(name="Daily post here", value=shown, inline=False)
    embed.set_footer(text="Keys: " + ", ".join(KEYS))
    return embed


async def acknowledge(interaction: discord.Interaction) -> None:
    """Defer privately, before any database work, so the 3 s window is always met."""
    await interaction.response.defer(ephemeral=True, thinking=True)


async def answer(interaction: discord.Interaction, text: str) -> None:
    """The private answer to a deferred /settings (it replaces the "thinking" message)."""
    await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)


@server_admin_only
class SettingsCog(commands.GroupCog, group_name="settings"):
    """Server and channel settings for this bot"""

    daily = app_commands.Group(name="daily", description="A post the bot makes here every day")

    def __init__(self, store: SettingsStore, clock: Clock = utc_now) -> None:
        super().__init__()
        self.store = store
        self.daily_posts = DailyStore(store)
        self.clock = clock

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        return await require_manage(interaction)

    @app_commands.command(name="show", description="Show the settings that apply in this channel")
    async def show(self, interaction: discord.Interaction) -> None:
        """Answered in the first response: a read waits on no lock in WAL mode, only
        behind this bot's own write in progress, if any (at most its 2 s busy timeout)."""
        rows = await self.store.stored(interaction.guild_id)
        daily = await self.daily_posts.get(interaction.channel_id)
        await interaction.response.send_message(
            embed=settings_embed(rows, interaction.channel_id, daily),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(
        name="set", description="Change a setting for the whole server or one channel"
    )
    @app_commands.describe(
        key="What to change",
        value="The new value",
        here="Only in this channel (default: the whole server)",
    )
    async def set_value(
        self,
        interaction: discord.Interaction,
        key: str,
        value: app_commands.Range[str, 1, 100],
        here: bool = False,
    ) -> None:
        await acknowledge(interaction)
        kept = await self.store.set(
            interaction.guild_id, interaction.channel_id if here else None, key, value
        )
        where = "in this channel" if here else "for the whole server"
        await answer(interaction, f"`{key}` is now `{kept}` {where}.")

    @app_commands.command(
        name="reset", description="Forget a setting (back to the server's value or the default)"
    )
    @app_commands.describe(
        key="What to change", here="Only in this channel (default: the whole server)"
    )
    async def reset(self, interaction: discord.Interaction, key: str, here: bool = False) -> None:
        await acknowledge(interaction)
        await self.store.reset(interaction.guild_id, interaction.channel_id if here else None, key)
        await answer(
            interaction,
            f"`{key}` is back to its default" + (" here." if here else " for the server."),
        )

    @set_value.autocomplete("key")
    @reset.autocomplete("key")
    async def key_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"{key}: {key_help(key)}"[:100], value=key)
            for key in KEYS
            if current.lower() in key
        ][:25]

    @daily.command(name="set", description="Post a generation in this channel every day")
    @app_commands.describe(
        command="What to post: a painting, a colour, a few lines or names",
        at="When, on a 24-hour clock (HH:MM)",
        timezone="Whose clock, e.g. Europe/Paris (default UTC)",
    )
    @app_commands.rename(at="time")
    @app_commands.choices(command=[app_commands.Choice(name=c, value=c) for c in DAILY_COMMANDS])
    async def daily_set(
        self,
        interaction: discord.Interaction,
        command: str,
        at: app_commands.Range[str, 1, 5],
        timezone: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        when, zone = parse_time(at), parse_zone(timezone)  # a bad value: an ephemeral error
        await acknowledge(interaction)
        post = await self.daily_posts.set(
            interaction.guild_id, interaction.channel_id, command, when, zone, self.clock()
        )
        await answer(interaction, daily_text(post, self.clock()))

    @daily.command(name="off", description="Stop this channel's daily post")
    async def daily_off(self, interaction: discord.Interaction) -> None:
        await acknowledge(interaction)
        stopped = await self.daily_posts.stop(interaction.channel_id)
        await answer(
            interaction,
            "The daily post here is stopped." if stopped else "This channel has no daily post.",
        )

    @daily_set.autocomplete("timezone")
    async def zone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=zone, value=zone)
            for zone in zone_names()
            if current.lower() in zone.lower()
        ][:25]


def daily_text(post: DailyPost, now) -> str:
    """The confirmation: what, when, and the next post as a Discord timestamp (shown in
    each reader's own time)."""
    first = int(post.next_post(now).timestamp())
    return (
        f"Every day at {post.at:%H:%M} ({post.timezone}) this channel gets "
        f"{DAILY_COMMANDS[post.command]}. The next one: <t:{first}:F>. Stop it with "
        "`/settings daily off`."
    )


_ZONES: list[str] = []


def zone_names() -> list[str]:
    """The zone database's names, sorted, read once."""
    if not _ZONES:
        _ZONES.extend(sorted(available_timezones()))
    return _ZONES
