"""Admin commands: /models, /reload, and the owner's command-tree sync."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.replies import NO_MENTIONS
from bot.engine import InferenceEngine
from bot.model_info import summary


async def can_manage(interaction: discord.Interaction) -> bool:
    """Server-side check: Manage Server permission, or the bot's owner."""
    if interaction.permissions.manage_guild:
        return True
    return await interaction.client.is_owner(interaction.user)


class AdminCog(commands.Cog):
    def __init__(self, bot: commands.Bot, engine: InferenceEngine) -> None:
        self.bot = bot
        self.engine = engine

    @app_commands.command(name="models", description="Loaded models and their key numbers")
    async def models(self, interaction: discord.Interaction) -> None:
        embed = discord.Embed(title="Models")
        for name, model in sorted(self.engine.models.items())[:20]:
            embed.add_field(name=name, value=summary(model)[:1024], inline=False)
        for name, why in sorted(self.engine.failures.items())[:5]:
            embed.add_field(name=f"{name} (unavailable)", value=why[:1024], inline=False)
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @app_commands.command(name="reload", description="Re-read changed model files")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.check(can_manage)
    async def reload(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await asyncio.to_thread(self.engine.reload)
        lines = [f"{name}: {status}" for name, status in sorted(report.items())]
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
