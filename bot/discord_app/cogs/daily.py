"""The daily posts (`/settings daily`): a painting, a colour, a few lines or names of the
day, posted in a channel at its local time.

A `discord.ext.tasks` loop looks every `TICK_SECONDS` for posts that are due. A process
posts only for the guilds its shards hold (Discord routes guild `g` to shard
`(g >> 22) % shard_count`), and only the day it claims in the database
(`bot.discord_app.store.daily`), so several shard processes sharing the file post once. A post that
fails (permissions lost, model missing) is logged; its day stays claimed, so it is tried
again the next day and never in a loop. A channel Discord no longer knows, or a server
the bot left, loses its schedule. Posts run beside the loop, so a slow one holds up
neither the next tick nor the other channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

import discord
from discord.ext import commands, tasks

from bot.commands import MAX_SEED
from bot.discord_app.attachments import png_file
from bot.discord_app.cogs.name import name_embed
from bot.discord_app.replies import NO_MENTIONS, shown_text, spoilered
from bot.discord_app.store.daily import DailyPost, DailyStore
from bot.errors import UserFacingError
from bot.name.service import NameRequest, NameResult
from bot.paint.service import PaintRequest
from bot.render import hex_color, swatch_png
from bot.services import Services
from bot.write.service import WriteRequest

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]  # the current time, timezone-aware
TICK_SECONDS = 30.0  # how often due posts are looked for
AT_ONCE = 4  # daily posts generated together (they share the batchers with commands)
WRITE_LENGTH = 300  # characters: "a few lines"
JOB_SECONDS = 600.0  # a daily post's deadline


def utc_now() -> datetime:
    return datetime.now(UTC)


def holds(bot: commands.AutoShardedBot, guild_id: int) -> bool:
    """Whether this process's shards receive `guild_id`'s events (Discord's formula)."""
    return (guild_id >> 22) % (bot.shard_count or 1) in bot.shards


class DailyCog(commands.Cog):
    def __init__(
        self, bot: commands.AutoShardedBot, store: DailyStore, clock: Clock = utc_now
    ) -> None:
        self.bot = bot
        self.store = store
        self.clock = clock
        self._at_once = asyncio.Semaphore(AT_ONCE)
        self._posting: set[asyncio.Task] = set()

    @property
    def services(self) -> Services:
        return self.bot.services

    async def cog_load(self) -> None:
        self.look.change_interval(seconds=TICK_SECONDS)
        self.look.start()

    async def cog_unload(self) -> None:
        self.look.cancel()
        for task in self._posting:
            task.cancel()

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Kicked, or the server deleted: its posts could never be made again."""
        try:
            stopped = await self.store.stop_guild(guild.id)
        except Exception as error:  # kept: its posts fail and are logged once a day
            log.warning("daily posts: cannot stop server %d's (%s)", guild.id, error)
            return
        if stopped:
            log.info("daily posts: left server %d, its %d post(s) stopped", guild.id, stopped)

    @tasks.loop(seconds=TICK_SECONDS)
    async def look(self) -> None:
        """Start the posts due now (they run beside the loop, a few at a time)."""
        now = self.clock()
        try:
            schedules = [p for p in await self.store.posts() if holds(self.bot, p.guild_id)]
        except Exception as error:  # an unreadable database: look again at the next tick
            log.warning("daily posts: cannot read the schedules (%s)", error)
            return
        claimed = []
        for post in schedules:
            try:
                day = post.due(now)  # a day already claimed is not asked again (no write)
                if day not in (None, post.claimed) and await self.store.claim(post.channel_id, day):
                    claimed.append(post)
            except Exception as error:  # a busy database: the next tick claims it
                log.warning("daily posts: cannot claim channel %d (%s)", post.channel_id, error)
        for post in claimed:
            task = asyncio.get_running_loop().create_task(self.post(post))
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)

    @look.before_loop
    async def connected(self) -> None:
        await self.bot.wait_until_ready()

    async def post(self, post: DailyPost) -> None:
        """Make and send one post; any failure is logged, never raised."""
        channel = self.bot.get_partial_messageable(post.channel_id, guild_id=post.guild_id)
        try:
            async with self._at_once:
                message = await getattr(self, f"_{post.command}")(post)
            await channel.send(**message, allowed_mentions=NO_MENTIONS)
            log.info("daily %s posted in channel %d", post.command, post.channel_id)
        except discord.NotFound as error:  # the channel is gone: no post there again
            log.warning(
                "daily %s: channel %d is gone (%s); its post is stopped",
                post.command,
                post.channel_id,
                error,
            )
            with contextlib.suppress(Exception):  # else it is only tried again tomorrow
                await self.store.stop(post.channel_id)
        except Exception as error:
            log.warning(
                "daily %s in channel %d (server %d) failed; next try tomorrow: %s",
                post.command,
                post.channel_id,
                post.guild_id,
                error,
                exc_info=not isinstance(error, discord.HTTPException | UserFacingError),
            )

    def _deadline(self) -> float:
        return time.monotonic() + JOB_SECONDS

    async def _paint(self, post: DailyPost) -> dict:
        request = PaintRequest(seed=secrets.randbelow(MAX_SEED))
        result = await self.services.paint.paint_async(request, None, self._deadline())
        png = await asyncio.to_thread(result.png)
        return {
            "content": f"🖼️ **Painting of the day** · in the style of Monet · seed {result.seed}"
            f" (`/paint seed:{result.seed}` paints it again)",
            "file": png_file(png, "painting.png"),
        }

    async def _invented(self) -> NameResult:
        """A random colour and the names the /name model invents for it."""
        rgb = tuple(secrets.randbelow(256) for _ in range(3))
        request = NameRequest(hex_color(rgb), seed=secrets.randbelow(MAX_SEED))
        return await self.services.name.name_async(request, self._deadline())

    async def _color(self, post: DailyPost) -> dict:
        result = await self._invented()
        name = result.names[0] if result.names else result.hex
        png = await asyncio.to_thread(swatch_png, result.rgb, name)
        embed = discord.Embed(
            title=f"Colour of the day: {shown_text(name)}",
            description=f"`{result.hex}` · a name invented by the model (seed {result.seed})",
            colour=discord.Colour.from_rgb(*result.rgb),
        )
        embed.set_image(url="attachment://swatch.png")
        return {"embed": embed, "file": png_file(png, "swatch.png")}

    async def _name(self, post: DailyPost) -> dict:
        result = await self._invented()
        png = await asyncio.to_thread(self.services.name.render, result)
        return {
            "content": "🏷️ **Names of the day**",
            "embed": name_embed(result),
            "file": png_file(png, "swatch.png"),
        }

    async def _write(self, post: DailyPost) -> dict:
        """A few lines in the channel's `write_style`, else the first style it may use."""
        store = self.bot.server_settings
        settings = await store.channel(post.guild_id, post.channel_id)
        scope = await store.scope(post.guild_id)
        styles = self.services.write.styles(scope)
        style = settings.write_style or next(iter(styles), None)
        if style is None:
            raise UserFacingError("no writing style is loaded")
        request = WriteRequest(style, length=WRITE_LENGTH, seed=secrets.randbelow(MAX_SEED))
        result = await self.services.write.write_async(request, None, self._deadline(), scope)
        text = spoilered(shown_text(result.text), settings.spoiler)
        head = f"✍️ **Lines of the day** · {shown_text(result.style)} · seed {result.seed}"
        return {"content": f"{head}\n{text}"[:2000]}
