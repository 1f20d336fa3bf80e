"""Admin commands: /models, /reload, and the owner's command-tree sync."""

from __future__ import annotations

import asyncio
from typing import TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.commands import MODELS
from bot.contract.descriptions import summary
from bot.contract.trained import SHIPPED, StyleScope, owner
from bot.discord_app.channel_settings import style_scope
from bot.discord_app.replies import NO_MENTIONS
from bot.runtime.batching import Pool
from bot.runtime.engine import InferenceEngine

T = TypeVar("T")
EMBED_TOTAL = 6000  # characters across one embed, as Discord counts them
EMBED_FIELDS = 25
ROOM_FOR_MORE = 80  # kept free for the closing "and N more" field


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown_name(name: str, scope: StyleScope) -> str:
    """A model's name as a server sees it: a trained style by its style name and whose it
    is, never by the server id it is filed under."""
    trainer = owner(name)
    if trainer is None:
        return name
    style = name.partition("/")[2]
    return f"{style} (trained here)" if trainer == scope.guild_id else f"{style} (published)"


def models_embed(engine: InferenceEngine, scope: StyleScope = SHIPPED) -> discord.Embed:
    """Every loaded and unavailable model `scope` sees, as many as fit Discord's embed
    limits (25 fields, 6,000 characters); the rest are counted in a last field."""
    entries = [
        (shown_name(name, scope), summary(m))
        for name, m in sorted(engine.models.items())
        if scope.sees(name)
    ]
    entries += [
        (f"{shown_name(name, scope)} (unavailable)", why)
        for name, why in sorted(engine.failures.items())
        if scope.sees(name)
    ]
    embed = discord.Embed(title="Models")
    used = len(embed.title)
    for index, (name, value) in enumerate(entries):
        name, value = _cut(name, 100), _cut(value, 400)
        left = len(entries) - index
        last_slot = len(embed.fields) == EMBED_FIELDS - 1 and left > 1
        if last_slot or used + len(name) + len(value) > EMBED_TOTAL - ROOM_FOR_MORE:
            embed.add_field(name="…", value=f"and {left} more", inline=False)
            break
        embed.add_field(name=name, value=value, inline=False)
        used += len(name) + len(value)
    if not entries:
        embed.description = "No models are loaded."
    return embed


def server_admin_only(item: T) -> T:
    """For commands and groups that change the bot for a whole server: offered in servers
    only (contexts set explicitly, since the bot-wide contexts would otherwise be merged
    in), never through a user install, and shown to Manage Server by default."""
    for decorate in (
        app_commands.default_permissions(manage_guild=True),
        app_commands.allowed_installs(guilds=True, users=False),
        app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False),
        app_commands.guild_only(),
    ):
        item = decorate(item)
    return item


async def require_manage(interaction: discord.Interaction) -> bool:
    """A cog's `interaction_check` for admin-only groups: refuse without Manage Server."""
    if not await can_manage(interaction):
        raise app_commands.CheckFailure("needs Manage Server")
    return True


async def can_manage(interaction: discord.Interaction) -> bool:
    """Server-side check: Manage Server permission, or the bot's owner."""
    if interaction.permissions.manage_guild:
        return True
    return await interaction.client.is_owner(interaction.user)


def replica_lines(replicas: list[dict], key: str, scope: StyleScope = SHIPPED) -> str:
    """One line per inference replica: its deployment, its id and what `key` holds (models
    or a report), of the models `scope` sees, by their shown names."""
    lines = []
    for replica in replicas:
        value = {shown_name(k, scope): v for k, v in replica[key].items() if scope.sees(k)}
        shown = ", ".join(f"{k}: {v}" if key == "report" else k for k, v in sorted(value.items()))
        lines.append(f"{replica['deployment']} `{replica['replica'][:8]}` {shown or 'nothing'}")
    return _cut("\n".join(lines), 1024)


class AdminCog(commands.Cog):
    def __init__(self, bot: commands.Bot, engine: InferenceEngine, pool: Pool) -> None:
        self.bot = bot
        self.engine = engine
        self.pool = pool

    @app_commands.command(name=MODELS.name, description=MODELS.description)
    async def models(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        embed = models_embed(self.engine, await style_scope(interaction))
        replicas = await asyncio.to_thread(self.pool.replicas)
        if replicas:
            embed.add_field(
                name=f"Inference replicas ({len(replicas)})",
                value=replica_lines(replicas, "models", await style_scope(interaction)),
                inline=False,
            )
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="reload", description="Re-read changed model files")
    @server_admin_only
    @app_commands.check(can_manage)
    async def reload(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await asyncio.to_thread(self.engine.reload)
        scope = await style_scope(interaction)
        lines = [
            f"{shown_name(name, scope)}: {status}"
            for name, status in sorted(report.items())
            if scope.sees(name)
        ]
        replicas = await asyncio.to_thread(self.pool.reload_replicas)
        if replicas:
            lines.append(f"inference replicas ({len(replicas)}), one after another:")
            lines.append(replica_lines(replicas, "report", scope))
        await interaction.followup.send(
            "\n".join(lines)[:1900] or "No model file changed.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @commands.command(name="sync")
    @commands.is_owner()
    async def sync(self, ctx: commands.Context, scope: str = "global") -> None:
        """`@bot sync` publishes slash commands globally; `@bot sync guild` to this server only."""
        if scope == "guild" and ctx.guild is not None:
            self.bot.tree.copy_global_to(guild=ctx.guild)
            synced = await self.bot.tree.sync(guild=ctx.guild)
        else:
            synced = await self.bot.tree.sync()
        await ctx.reply(f"Synced {len(synced)} commands ({scope}).", allowed_mentions=NO_MENTIONS)
