"""Sharding: the bot runs as discord.py's AutoShardedBot against a stand-in that requires
shards, answers each guild on the shard Discord routes it to, recovers from close code
4011 (too few shards), and reads its shard settings from the environment."""

import asyncio
import logging

import discord
import pytest

from bot.config import Settings
from bot.discord_app.client import RnnBot
from tests.discord_harness import run_with_bot
from tests.local_discord import guild_on_shard


@pytest.fixture(autouse=True)
def no_cooldowns(monkeypatch):
    monkeypatch.setenv("RNNBOT_COOLDOWN_COLOR", "0/0")


@pytest.fixture(autouse=True)
def fast_identify(monkeypatch):
    """discord.py waits 5 s before each shard's IDENTIFY after the first (Discord's
    identify rate limit), which the stand-in does not enforce: skip it to stay fast."""

    async def no_wait(self, shard_id, *, initial=False) -> None:
        return None

    monkeypatch.setattr(RnnBot, "before_identify_hook", no_wait)


async def answers_on_shard(discord, shard_id: int, shard_count: int, name: str) -> None:
    conversation = await discord.run(
        "color", name=name, guild_id=guild_on_shard(shard_id, shard_count), timeout=10
    )
    assert conversation.final.payload["embeds"][0]["title"] == name


def test_two_shards_connect_and_each_answers_its_guilds(services):
    async def scenario(discord, bot):
        assert sorted(discord.identified_shards) == [[0, 2], [1, 2]]
        assert bot.shard_count == 2 and sorted(bot.shards) == [0, 1]
        await answers_on_shard(discord, 0, 2, "forest")
        await answers_on_shard(discord, 1, 2, "sky")
        sequences = sorted(s.sequence for s in discord.gateway_sessions.values())
        assert sequences == [2, 2]  # READY, then one interaction on each socket

    run_with_bot(services, scenario, timeout=20, discord_options={"shards": 2})


def test_a_dropped_shard_resumes_its_own_session(services):
    async def scenario(discord, bot):
        await answers_on_shard(discord, 1, 2, "rose")
        await discord.drop_connection(shard_id=1)
        await asyncio.wait_for(discord.ready.wait(), 10)
        assert (discord.identifies, discord.resumes) == (2, 1)
        await answers_on_shard(discord, 1, 2, "plum")
        await answers_on_shard(discord, 0, 2, "rust")
        one = next(s for s in discord.gateway_sessions.values() if s.shard == (1, 2))
        assert one.sequence == 4  # READY, rose, RESUMED, plum: one sequence across sockets

    run_with_bot(services, scenario, timeout=20, discord_options={"shards": 2})


def test_too_few_shards_get_4011_and_reconnect_with_discords_count(services, caplog):
    services.settings.shard_count = 1

    async def scenario(discord, bot):
        assert discord.close_codes == [4011]
        assert discord.identified_shards == [[0, 1], [0, 2], [1, 2]]
        assert bot.shard_count == 2
        await answers_on_shard(discord, 0, 2, "snow")
        await answers_on_shard(discord, 1, 2, "grass")

    with caplog.at_level(logging.WARNING, logger="bot.discord_app.client"):
        run_with_bot(services, scenario, timeout=20, discord_options={"shards": 2})
    warnings = [r for r in caplog.records if r.name == "bot.discord_app.client"]
    assert len(warnings) == 1 and "4011" in warnings[0].getMessage()


def test_shard_ids_connect_only_those_shards(services):
    services.settings.shard_count, services.settings.shard_ids = 2, [1]

    async def scenario(discord, bot):
        assert discord.identified_shards == [[1, 2]]
        assert list(bot.shards) == [1]
        await answers_on_shard(discord, 1, 2, "lime")
        with pytest.raises(LookupError):  # shard 0 is another process's
            await discord.run("color", name="lime", guild_id=guild_on_shard(0, 2))

    run_with_bot(
        services, scenario, timeout=20, discord_options={"shards": 2, "expected_shards": [1]}
    )


def test_4011_with_shard_ids_stays_fatal_with_a_clear_error(services, caplog):
    services.settings.shard_count, services.settings.shard_ids = 1, [0]

    async def scenario(discord, bot):
        raise AssertionError("the stand-in refuses the only shard; no scenario should run")

    with pytest.raises(discord.ConnectionClosed) as closed:
        run_with_bot(services, scenario, timeout=20, discord_options={"shards": 2})
    assert closed.value.code == 4011
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("raise RNNBOT_SHARD_COUNT in every process" in r.getMessage() for r in errors)


@pytest.fixture()
def shard_env(monkeypatch):
    monkeypatch.delenv("RNNBOT_SHARD_COUNT", raising=False)
    monkeypatch.delenv("RNNBOT_SHARD_IDS", raising=False)
    return monkeypatch


def test_shard_settings_from_the_environment(shard_env):
    assert (Settings.from_env().shard_count, Settings.from_env().shard_ids) == (None, None)
    shard_env.setenv("RNNBOT_SHARD_COUNT", "4")
    shard_env.setenv("RNNBOT_SHARD_IDS", "2, 3")
    settings = Settings.from_env()
    assert (settings.shard_count, settings.shard_ids) == (4, [2, 3])


@pytest.mark.parametrize(
    ("count", "ids", "message"),
    [
        ("", "0,1", "RNNBOT_SHARD_IDS needs RNNBOT_SHARD_COUNT"),
        ("2", "0,x", "whole numbers separated by commas"),
        ("2", "0,2", "from 0 to 1"),
        ("2", "1,1", "lists a shard twice"),
        ("0", "", "RNNBOT_SHARD_COUNT must be at least 1"),
        ("two", "", "RNNBOT_SHARD_COUNT must be a whole number"),
    ],
)
def test_bad_shard_settings_exit_with_a_clear_message(shard_env, count, ids, message):
    shard_env.setenv("RNNBOT_SHARD_COUNT", count)
    shard_env.setenv("RNNBOT_SHARD_IDS", ids)
    with pytest.raises(SystemExit, match=message):
        Settings.from_env()
