"""The discord.py `commands.Bot` and its cogs."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from bot.discord_app.admin_cog import AdminCog
from bot.discord_app.admission import Admission
from bot.discord_app.caption_cog import CaptionCog
from bot.discord_app.color_cog import ColorCog
from bot.discord_app.paint_cog import PaintCog
from bot.discord_app.replies import NO_MENTIONS, ReplyingCommandTree
from bot.discord_app.write_cog import WriteCog
from bot.services import Services

log = logging.getLogger(__name__)


class RnnBot(commands.Bot):
    def __init__(
        self, services: Services, sync_on_start: bool = False, admission: Admission | None = None
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=NO_MENTIONS,
            tree_cls=ReplyingCommandTree,
        )
        self.services = services
        self.sync_on_start = sync_on_start
        settings = services.settings
        self.admission = admission or Admission(
            settings.max_batch, settings.max_waiting, settings.job_seconds
        )

    async def setup_hook(self) -> None:
        services, admission = self.services, self.admission
        await self.add_cog(ColorCog(services.color, admission))
        await self.add_cog(WriteCog(services.write, admission))
        await self.add_cog(CaptionCog(services.caption, admission))
        await self.add_cog(PaintCog(services.paint, admission))
        await self.add_cog(AdminCog(self, services.engine))
        if self.sync_on_start:
            synced = await self.tree.sync()
            log.info("synced %d application commands globally", len(synced))

    async def on_ready(self) -> None:
        log.info("connected as %s", self.user)

    async def close(self) -> None:
        """Stop the gateway first, then the models: running jobs get a bounded grace."""
        await super().close()
        await asyncio.to_thread(self.services.close)


def run_discord(services: Services, token: str, sync_on_start: bool = False) -> None:
    RnnBot(services, sync_on_start).run(token, log_handler=None)
