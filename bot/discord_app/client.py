"""The discord.py `commands.Bot` and its cogs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.discord_app.admission import Admission
from bot.discord_app.buttons import PressCooldowns
from bot.discord_app.cogs.admin import AdminCog
from bot.discord_app.cogs.caption import CaptionButton, CaptionCog
from bot.discord_app.cogs.color import ColorButton, ColorCog
from bot.discord_app.cogs.daily import Clock, DailyCog, utc_now
from bot.discord_app.cogs.help import HelpCog
from bot.discord_app.cogs.history import HistoryCog, RerunButton
from bot.discord_app.cogs.name import NameCog
from bot.discord_app.cogs.paint import PaintButton, PaintCog
from bot.discord_app.cogs.palette import PaletteCog
from bot.discord_app.cogs.settings import SettingsCog
from bot.discord_app.cogs.train import TrainCog
from bot.discord_app.cogs.write import WriteButton, WriteCog
from bot.discord_app.metrics import BotMetrics, start_endpoint
from bot.discord_app.replies import NO_MENTIONS, ReplyingCommandTree, record_finish
from bot.discord_app.store.daily import DailyStore
from bot.discord_app.store.history import HistoryStore
from bot.discord_app.store.settings import SettingsStore
from bot.discord_app.translations import BotTranslator
from bot.services import Services

log = logging.getLogger(__name__)

SHARDING_REQUIRED = 4011  # Discord's close code when the bot is in too many guilds per shard


class RnnBot(commands.AutoShardedBot):
    def __init__(
        self,
        services: Services,
        sync_on_start: bool = False,
        admission: Admission | None = None,
        *,
        recommended_shards: bool = False,
        settings_store: SettingsStore | None = None,
        clock: Clock = utc_now,
    ) -> None:
        """Shards as configured in `services.settings`, or, with `recommended_shards`, as
        many as Discord recommends: what a restart after close code 4011 needs. Server
        settings live in `settings.settings_db` unless a `settings_store` is given.
        `clock` tells the daily posts and the history the time (tests move it)."""
        settings = services.settings
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=NO_MENTIONS,
            tree_cls=ReplyingCommandTree,
            # Installable to servers and to users, usable in servers, DMs and group DMs;
            # server-only commands narrow this themselves.
            allowed_installs=app_commands.AppInstallationType(guild=True, user=True),
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=True, private_channel=True
            ),
            shard_count=None if recommended_shards else settings.shard_count,
            shard_ids=None if recommended_shards else settings.shard_ids,
        )
        self.services = services
        self.sync_on_start = sync_on_start
        self.admission = admission or Admission(
            settings.max_batch, settings.max_waiting, settings.job_seconds
        )
        self.server_settings = settings_store or SettingsStore(settings.settings_db)
        self.clock = clock
        self.history = HistoryStore(self.server_settings, settings.history_days, clock)
        self.press_cooldowns = PressCooldowns()
        self.metrics = BotMetrics(services, self.admission)
        self.metrics_port: int | None = None  # bound when the endpoint runs
        self._metrics_runner = None

    async def setup_hook(self) -> None:
        services, admission = self.services, self.admission
        await self.server_settings.open()
        if services.settings.metrics_port is not None:
            self._metrics_runner, self.metrics_port = await start_endpoint(
                self.metrics, self.is_serving, services.settings.metrics_port
            )
        await self.tree.set_translator(BotTranslator())
        self.add_dynamic_items(WriteButton, CaptionButton, PaintButton, ColorButton, RerunButton)
        await self.add_cog(ColorCog(services.color, admission))
        write = WriteCog(services.write, admission)
        caption = CaptionCog(services.caption, admission)
        await self.add_cog(write)
        await self.add_cog(caption)
        palette = PaletteCog(services.palette, admission)
        await self.add_cog(palette)
        for menu in write.context_menus() + caption.context_menus() + palette.context_menus():
            self.tree.add_command(menu)
        await self.add_cog(PaintCog(services.paint, admission))
        await self.add_cog(NameCog(services.name, admission))
        await self.add_cog(AdminCog(self, services.engine, services.pool))
        await self.add_cog(SettingsCog(self.server_settings, self.clock))
        await self.add_cog(DailyCog(self, DailyStore(self.server_settings), self.clock))
        await self.add_cog(HelpCog(self))
        await self.add_cog(HistoryCog(self.history))
        await self.add_cog(TrainCog(services, self.server_settings))
        if self.sync_on_start:
            synced = await self.tree.sync()
            log.info("synced %d application commands globally", len(synced))

    def is_serving(self) -> bool:
        """Ready: connected to Discord, not closing, with at least one model in service."""
        return self.is_ready() and not self.is_closed() and bool(self.services.engine.models)

    async def on_app_command_completion(
        self, interaction: discord.Interaction, command: app_commands.Command
    ) -> None:
        record_finish(interaction, failed=False)

    async def close(self) -> None:
        await super().close()
        await self.server_settings.close()
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()

    async def on_ready(self) -> None:
        log.info("connected as %s with shards %s", self.user, sorted(self.shards))


async def serve(
    services: Services,
    token: str,
    started: Callable[[RnnBot], object] = lambda bot: None,
    **bot_options: Any,
) -> None:
    """Run the bot until it stops for good, then close the models: after the gateway, so
    running jobs get a bounded grace, and not when discord.py closes a bot for close code
    4011, which is answered with a second bot (see `_must_reshard`). `started` sees each
    bot as it is made (tests use it to reach the live one)."""
    try:
        bot = RnnBot(services, **bot_options)
        started(bot)
        try:
            await _run(bot, token)
        except discord.ConnectionClosed as error:
            if not _must_reshard(error, services.settings):
                raise
            bot = RnnBot(services, **bot_options, recommended_shards=True)
            started(bot)
            await _run(bot, token)
    finally:
        await asyncio.to_thread(services.close)


async def _run(bot: RnnBot, token: str) -> None:
    async with bot:
        await bot.start(token)


def _must_reshard(error: discord.ConnectionClosed, settings: Settings) -> bool:
    """Whether Discord refused the configured shard count (4011) and Discord's own count
    fixes it. AutoShardedBot surfaces 4011 as this exception from `start`, after closing
    itself. With RNNBOT_SHARD_IDS the other processes share the count: only a person
    can change it everywhere, so the error stays fatal, with a line saying so."""
    if error.code != SHARDING_REQUIRED or settings.shard_count is None:
        return False
    if settings.shard_ids is not None:
        log.error(
            "Discord requires more than the %d configured shards (close code 4011): raise "
            "RNNBOT_SHARD_COUNT in every process that shares the bot.",
            settings.shard_count,
        )
        return False
    log.warning(
        "Discord requires more than the %d configured shards (close code 4011, sharding "
        "required); reconnecting with the count Discord recommends. Raise or unset "
        "RNNBOT_SHARD_COUNT.",
        settings.shard_count,
    )
    return True


def run_discord(services: Services, token: str, sync_on_start: bool = False) -> None:
    """Serve until stopped; Ctrl-C stops quietly, as discord.py's `Client.run` does."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(services, token, sync_on_start=sync_on_start))
