"""Daily posts: the schedule, its claim, the schema migration, and the posts themselves on
the local Discord, fired by a clock the test moves."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import sqlite3
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace

import discord
import pytest
from PIL import Image

from bot.discord_app.client import RnnBot
from bot.discord_app.cogs import daily as daily_cog
from bot.discord_app.endpoints import use_local_discord
from bot.discord_app.store.daily import DailyPost, DailyStore, parse_time, parse_zone
from bot.discord_app.store.settings import MIGRATIONS, SettingsStore
from bot.errors import InvalidInput
from tests.conftest import Clock
from tests.discord_harness import describe_violations
from tests.local_discord import CHANNEL_ID, TOKEN, LocalDiscord, guild_on_shard

MANAGE_GUILD = 1 << 5
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # Paris is UTC+1 until 29 March


@pytest.fixture(autouse=True)
def fast_ticks(monkeypatch):
    monkeypatch.setattr(daily_cog, "TICK_SECONDS", 0.05)


# ---- the schedule ---------------------------------------------------------------------


def test_times_and_zones_are_checked():
    assert parse_time("9:05") == time(9, 5) and parse_time("23:59") == time(23, 59)
    for bad in ("24:00", "9h", "12:60", ""):
        with pytest.raises(InvalidInput, match="HH:MM"):
            parse_time(bad)
    assert parse_zone(None) == "UTC" and parse_zone("Europe/Paris") == "Europe/Paris"
    for bad in ("Mars/Olympus", "../etc/passwd"):
        with pytest.raises(InvalidInput, match="Unknown time zone"):
            parse_zone(bad)


def test_a_post_is_due_from_its_local_time_on_each_local_day_after_it_was_set():
    post = DailyPost(1, 2, "paint", time(9, 0), "Europe/Paris", MONDAY.timestamp())
    assert post.due(MONDAY) is None  # 08:00 in Paris
    assert post.due(MONDAY + timedelta(hours=1)) == "2026-03-02"
    assert post.due(MONDAY + timedelta(hours=15, minutes=59)) == "2026-03-02"  # 23:59
    assert post.due(MONDAY + timedelta(hours=16)) is None  # Tuesday 00:00, before 09:00
    assert post.next_post(MONDAY + timedelta(hours=2)).day == 3
    late = dataclasses.replace(post, since=(MONDAY + timedelta(hours=3)).timestamp())
    assert late.due(MONDAY + timedelta(hours=4)) is None  # set after today's time had passed
    assert late.due(MONDAY + timedelta(days=1, hours=1)) == "2026-03-03"


def test_a_process_posts_only_for_the_guilds_its_shards_hold():
    second = SimpleNamespace(shard_count=2, shards={1: None})
    assert daily_cog.holds(second, guild_on_shard(1, 2))
    assert not daily_cog.holds(second, guild_on_shard(0, 2))


def test_a_version_3_database_is_upgraded_keeping_its_values(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    for number, migration in enumerate(MIGRATIONS[:3]):
        db.executescript(f"BEGIN; {migration} PRAGMA user_version = {number + 1}; COMMIT;")
    db.execute("INSERT INTO settings VALUES (1, 0, 'write_style', 'tiny')")
    db.execute("INSERT INTO trained_styles VALUES (1, 'poems', 1)")
    db.commit()
    db.close()

    async def scenario():
        store = SettingsStore(path)
        await store.open()
        try:
            daily = DailyStore(store)
            await daily.set(1, 7, "name", time(9, 0), "UTC", MONDAY)
            return (
                (await store.channel(1, 7)).write_style,
                await store.published_styles(),
                [p.command for p in await daily.posts()],
            )
        finally:
            await store.close()

    assert asyncio.run(scenario()) == ("tiny", {(1, "poems")}, ["name"])
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 4


def test_two_processes_claiming_the_same_day_get_it_once(tmp_path):
    async def scenario():
        stores = [SettingsStore(tmp_path / "s.sqlite3") for _ in range(2)]
        for store in stores:
            await store.open()
        try:
            claims = [DailyStore(s).claim(5, "2026-03-02") for s in stores for _ in range(5)]
            won = await asyncio.gather(*claims)
            tomorrow = await DailyStore(stores[1]).claim(5, "2026-03-03")
            return won, tomorrow
        finally:
            for store in stores:
                await store.close()

    won, tomorrow = asyncio.run(scenario())
    assert won.count(True) == 1 and tomorrow


# ---- on the local Discord -----------------------------------------------------------


@contextlib.asynccontextmanager
async def local_discord(**options):
    discord = LocalDiscord(**options)
    await discord.start()
    use_local_discord(discord.api_base, discord.gateway_url, discord.cdn_base)
    try:
        yield discord
    finally:
        await discord.stop()
    assert not discord.violations, describe_violations(discord)


@contextlib.asynccontextmanager
async def running(services, discord, db: Path, clock: Clock, shard_ids=None, shards=None):
    """One bot process (of `shards`, running `shard_ids`) on the settings file `db`."""
    if shards is not None:
        settings = dataclasses.replace(services.settings, shard_count=shards, shard_ids=shard_ids)
        services = dataclasses.replace(services, settings=settings)
    bot = RnnBot(services, settings_store=SettingsStore(db), clock=clock)
    runner = asyncio.create_task(bot.start(TOKEN))
    try:
        async with asyncio.timeout(20):
            while not bot.is_ready():
                if runner.done():
                    runner.result()  # the client crashed: its own exception
                await asyncio.sleep(0.05)
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(runner, 10)


async def posts_settle(discord, count: int, ticks: int = 10) -> list[dict]:
    """Wait until `count` posts arrived, then a few ticks more for any extra one."""
    async with asyncio.timeout(60):
        while len(discord.channel_posts) < count:
            await asyncio.sleep(0.05)
    await asyncio.sleep(ticks * daily_cog.TICK_SECONDS)
    return discord.channel_posts


def test_a_daily_painting_is_posted_at_its_time_once_across_a_restart(services, tmp_path):
    db, clock = tmp_path / "settings.sqlite3", Clock(MONDAY)

    async def scenario():
        async with local_discord() as discord:
            async with running(services, discord, db, clock):
                refused = await discord.run(  # no Manage Server: refused by the bot itself
                    "settings daily set", command="name", time="8:00", permissions=0
                )
                assert refused.final.ephemeral and "not allowed" in refused.final.text
                asked = await discord.run(
                    "settings daily set",
                    command="paint",
                    time="9:00",
                    timezone="Europe/Paris",
                    permissions=MANAGE_GUILD,
                )
                assert "Every day at 09:00 (Europe/Paris)" in asked.final.text
                assert asked.final.ephemeral
                shown = await discord.run("settings show", permissions=MANAGE_GUILD)
                assert "Daily post here paint at 09:00 (Europe/Paris)" in shown.final.text
                await asyncio.sleep(10 * daily_cog.TICK_SECONDS)
                assert discord.channel_posts == []  # 08:00 in Paris
                clock.now = MONDAY + timedelta(hours=1, seconds=5)
                (painting,) = await posts_settle(discord, 1)
            async with running(services, discord, db, clock):  # restarted, same day
                await asyncio.sleep(10 * daily_cog.TICK_SECONDS)
                assert len(discord.channel_posts) == 1
                clock.now += timedelta(days=1)
                tuesday = (await posts_settle(discord, 2))[1]
            return painting, tuesday, discord

    painting, tuesday, discord = asyncio.run(scenario())
    for post in (painting, tuesday):
        assert post["channel_id"] == str(CHANNEL_ID)
        assert post["content"].startswith("🖼️ **Painting of the day**")
    png = discord.files[(painting["id"], "painting.png")]
    assert Image.open(io.BytesIO(png)).size == (512, 512)
    (tmp_path / "daily_painting.png").write_bytes(png)


def tries(discord, channel: int) -> int:
    """The bot's posts (or attempts) in `channel`."""
    return sum(1 for _, path in discord.requests if path == f"/channels/{channel}/messages")


def test_shard_processes_sharing_the_database_post_once_and_failures_wait_a_day(services, tmp_path):
    db, clock = tmp_path / "settings.sqlite3", Clock(MONDAY)
    guilds = [guild_on_shard(0, 2), guild_on_shard(1, 2)]
    channels = [CHANNEL_ID, CHANNEL_ID + 1, CHANNEL_ID + 2]

    async def schedule():
        store = SettingsStore(db)
        await store.open()
        daily = DailyStore(store)
        await daily.set(guilds[0], channels[0], "name", time(8, 0), "UTC", MONDAY)
        await daily.set(guilds[1], channels[1], "color", time(8, 0), "UTC", MONDAY)
        await daily.set(guilds[1], channels[2], "write", time(8, 0), "UTC", MONDAY)
        await store.close()

    async def scenario():
        await schedule()
        async with local_discord(shards=2) as discord:
            discord.forbidden_channels.add(str(channels[2]))
            async with (
                running(services, discord, db, clock, [0], 2) as first,
                running(services, discord, db, clock, [1], 2) as second,
                running(services, discord, db, clock, [1], 2),  # a second holder of shard 1
            ):
                assert sorted(first.shards) == [0] and sorted(second.shards) == [1]
                clock.now = MONDAY + timedelta(hours=1)
                await posts_settle(discord, 2, ticks=0)
                async with asyncio.timeout(60):
                    while not tries(discord, channels[2]):
                        await asyncio.sleep(0.05)
                await asyncio.sleep(10 * daily_cog.TICK_SECONDS)
                assert tries(discord, channels[2]) == 1  # refused (403), not tried again today
                assert len(discord.channel_posts) == 2  # shard 1's two holders posted once
                discord.forbidden_channels.clear()
                clock.now += timedelta(days=1)
                posts = await posts_settle(discord, 5)
            return posts[2:], posts[:2], len(posts)

    tuesday, monday, count = asyncio.run(scenario())
    assert count == 5
    assert sorted(p["channel_id"] for p in monday) == [str(c) for c in channels[:2]]
    assert sorted(p["channel_id"] for p in tuesday) == [str(c) for c in channels]
    color = next(p for p in monday if p["channel_id"] == str(channels[1]))
    assert color["embeds"][0]["title"].startswith("Colour of the day: ")
    write = next(p for p in tuesday if p["channel_id"] == str(channels[2]))
    assert write["content"].startswith("✍️ **Lines of the day** · ")


# ---- reliability, on a stand-in bot -----------------------------------------------------


def test_a_post_on_a_dst_change_day_is_made_once_and_never_skipped():
    """02:30 in Paris does not exist on 29 March 2026 and happens twice on 25 October."""
    post = DailyPost(1, 2, "paint", time(2, 30), "Europe/Paris", 0.0)
    for start in (datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC)):
        claimed: dict[str, datetime] = {}
        for minute in range(3 * 24 * 60):  # a tick a minute, the day before to the day after
            now = start + timedelta(minutes=minute)
            day = post.due(now)
            if day is not None and day not in claimed:
                claimed[day] = now
        assert len(claimed) == 3, claimed
    assert claimed["2026-10-25"] == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 02:30
    spring = [post.due(datetime(2026, 3, 29, h, 31, tzinfo=UTC)) for h in (0, 1)]
    assert spring == [None, "2026-03-29"]  # 03:30 local, the hour 02:xx was skipped to


class Channel:
    """A channel as `get_partial_messageable` gives it: it keeps or refuses each post."""

    def __init__(self, sent: list, refusal: Exception | None = None) -> None:
        self.sent, self.refusal = sent, refusal

    async def send(self, **message) -> None:
        if self.refusal is not None:
            raise self.refusal
        self.sent.append(message["content"])


@contextlib.asynccontextmanager
async def daily_cog_on(path: Path, channels: dict[int, Channel], clock: Clock):
    store = SettingsStore(path)
    await store.open()
    bot = SimpleNamespace(
        shard_count=1, shards={0: None}, get_partial_messageable=lambda c, guild_id: channels[c]
    )
    cog = daily_cog.DailyCog(bot, DailyStore(store), clock)
    try:
        yield cog
    finally:
        await cog.cog_unload()
        await store.close()


def test_a_slow_post_holds_up_neither_the_loop_nor_another_channel(tmp_path):
    clock, sent, stuck = Clock(MONDAY), [], asyncio.Event()

    async def scenario():
        async with daily_cog_on(
            tmp_path / "s.sqlite3", {1: Channel(sent), 2: Channel(sent)}, clock
        ) as cog:

            async def make(post):
                if post.channel_id == 1:
                    await stuck.wait()  # a painting that takes minutes
                return {"content": f"post {post.channel_id}"}

            cog._paint = cog._name = make
            await cog.store.set(9, 1, "paint", time(8, 0), "UTC", MONDAY)
            await cog.store.set(9, 2, "name", time(8, 1), "UTC", MONDAY)
            clock.now = MONDAY + timedelta(hours=1)
            await asyncio.wait_for(cog.look(), 2)  # channel 1's post starts and hangs
            clock.now += timedelta(minutes=1, seconds=1)
            await asyncio.wait_for(cog.look(), 2)
            await asyncio.sleep(0.1)
            assert sent == ["post 2"]
            stuck.set()
            await asyncio.sleep(0.1)
            assert sent == ["post 2", "post 1"]

    asyncio.run(scenario())


def test_a_deleted_channel_or_a_server_left_loses_its_schedule(tmp_path):
    clock, sent = Clock(MONDAY), []
    gone = discord.NotFound(SimpleNamespace(status=404, reason="Not Found"), {"code": 10003})
    forbidden = discord.Forbidden(SimpleNamespace(status=403, reason="Forbidden"), {"code": 50013})
    channels = {1: Channel(sent, gone), 2: Channel(sent, forbidden), 3: Channel(sent)}

    async def scenario():
        async with daily_cog_on(tmp_path / "s.sqlite3", channels, clock) as cog:

            async def make(post):
                return {"content": f"post {post.channel_id}"}

            cog._name = make
            for channel, guild in ((1, 9), (2, 9), (3, 8)):
                await cog.store.set(guild, channel, "name", time(8, 0), "UTC", MONDAY)
            clock.now = MONDAY + timedelta(hours=1)
            await cog.look()
            await asyncio.sleep(0.1)
            left = sorted(p.channel_id for p in await cog.store.posts())
            await cog.on_guild_remove(SimpleNamespace(id=8))
            return left, [p.channel_id for p in await cog.store.posts()]

    left, after_leaving = asyncio.run(scenario())
    assert sent == ["post 3"]
    assert left == [2, 3]  # 404: stopped; 403: kept, tried again tomorrow
    assert after_leaving == [2]
