"""The discord.py `commands.Bot`, its cogs, and owner-only command-tree sync."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.discord_app.caption_cog import CaptionCog
from bot.discord_app.color_cog import ColorCog
from bot.discord_app.paint_cog import PaintCog
from bot.discord_app.replies import NO_MENTIONS, ReplyingCommandTree
from bot.discord_app.write_cog import WriteCog
from bot.services import Services

log = logging.getLogger(__name__)


class AdminCog(commands.Cog):
    """Text commands addressed to the bot by mention (no message-content intent needed)."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

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


class RnnBot(commands.Bot):
    def __init__(self, services: Services, sync_on_start: bool = False) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=NO_MENTIONS,
            tree_cls=ReplyingCommandTree,
        )
        self.services = services
        self.sync_on_start = sync_on_start

    async def setup_hook(self) -> None:
        await self.add_cog(ColorCog(self.services.color))
        await self.add_cog(WriteCog(self.services.write))
        await self.add_cog(CaptionCog(self.services.caption))
        await self.add_cog(PaintCog(self.services.paint))
        await self.add_cog(AdminCog(self))
        if self.sync_on_start:
            synced = await self.tree.sync()
            log.info("synced %d application commands globally", len(synced))

    async def on_ready(self) -> None:
        log.info("connected as %s", self.user)


def run_discord(services: Services, token: str, sync_on_start: bool = False) -> None:
    RnnBot(services, sync_on_start).run(token, log_handler=None)
