"""Server settings: the SQLite store, and `/settings` on the local Discord."""

import asyncio
import logging
import sqlite3

import pytest

from bot.discord_app.store.settings import MIGRATIONS, SettingsStore, SettingsUnavailable
from bot.errors import InvalidInput
from tests.discord_harness import run_with_bot
from tests.local_discord import GUILD_ID

MANAGE_GUILD = 1 << 5
CHANNEL = 900000000000000005  # the stand-in's channel


@pytest.fixture(autouse=True)
def no_cooldowns(monkeypatch):
    for command in ("COLOR", "WRITE", "CAPTION", "PAINT", "NAME"):
        monkeypatch.setenv(f"RNNBOT_COOLDOWN_{command}", "0/0")


def test_values_survive_a_restart_and_channels_override_servers(tmp_path):
    async def scenario():
        store = SettingsStore(tmp_path / "s.sqlite3")
        await store.open()
        await store.set(1, None, "write_style", "nietzsche")
        await store.set(1, 7, "write_style", "shakespeare")
        await store.set(1, None, "spoiler", "ON")
        await store.close()

        again = SettingsStore(tmp_path / "s.sqlite3")
        await again.open()
        here, elsewhere = await again.channel(1, 7), await again.channel(1, 8)
        other_server = await again.channel(2, 7)
        await again.close()
        return here, elsewhere, other_server

    here, elsewhere, other_server = asyncio.run(scenario())
    assert here.write_style == "shakespeare" and here.spoiler
    assert elsewhere.write_style == "nietzsche" and elsewhere.spoiler
    assert other_server.write_style is None and not other_server.spoiler
    with sqlite3.connect(tmp_path / "s.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_bad_values_are_refused_and_nothing_is_written(tmp_path):
    async def scenario():
        store = SettingsStore(tmp_path / "s.sqlite3")
        await store.open()
        for key, value in (("cooldown.write", "fast"), ("buttons", "nobody"), ("colour", "x")):
            with pytest.raises(InvalidInput):
                await store.set(1, None, key, value)
        assert await store.set(1, None, "cooldown.write", "3/60") == "3/60"
        rows = await store.stored(1)
        await store.close()
        return rows

    assert asyncio.run(scenario()) == [(0, "cooldown.write", "3/60")]


def test_a_corrupt_database_gives_defaults_and_one_clear_log_line(tmp_path, caplog):
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not a database" * 100)

    async def scenario():
        store = SettingsStore(path)
        await store.open()
        settings = [await store.channel(1, 2) for _ in range(3)]
        with pytest.raises(SettingsUnavailable):
            await store.set(1, None, "spoiler", "on")
        await store.close()
        return settings

    with caplog.at_level(logging.ERROR, logger="bot.discord_app.store.settings"):
        settings = asyncio.run(scenario())
    assert all(s.enabled("write") and s.write_style is None for s in settings)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "cannot be used" in errors[0].getMessage()


def test_a_locked_database_refuses_the_write_and_keeps_the_value(tmp_path):
    path = tmp_path / "s.sqlite3"

    async def scenario():
        store = SettingsStore(path)
        await store.open()
        await store.set(1, None, "spoiler", "on")
        blocker = sqlite3.connect(path, timeout=0)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(SettingsUnavailable, match="busy"):
                await store.set(1, None, "spoiler", "off")
        finally:
            blocker.rollback()
            blocker.close()
        value = (await store.channel(1, 2)).spoiler
        await store.close()
        return value

    assert asyncio.run(scenario()) is True


def test_settings_command_switches_a_command_off_and_sets_defaults(services, tmp_path):
    store = SettingsStore(tmp_path / "settings.sqlite3")

    async def scenario(discord, bot):
        refused = await discord.run("settings set", key="enabled.color", value="off")
        assert refused.final.ephemeral and "not allowed" in refused.final.text

        done = await discord.run(
            "settings set", key="enabled.color", value="off", here=True, permissions=MANAGE_GUILD
        )
        assert done.final.ephemeral and "in this channel" in done.final.text
        off = await discord.run("color", name="forest")
        assert off.final.ephemeral and "switched off in this channel" in off.final.text

        await discord.run("settings set", key="write_style", value="tiny", permissions=MANAGE_GUILD)
        await discord.run("settings set", key="spoiler", value="on", permissions=MANAGE_GUILD)
        write = await discord.run("write", length=50, seed=1, wait=False)
        await write.wait_until(lambda c: bool(c.message_ids) and bool(c.message.get("components")))
        content = write.message["content"]
        assert content.startswith("**tiny**") and content.partition("\n")[2].startswith("||")

        shown = await discord.run("settings show", permissions=MANAGE_GUILD)
        fields = {f["name"]: f["value"] for f in shown.final.payload["data"]["embeds"][0]["fields"]}
        assert "`spoiler` = `on`" in fields["Whole server"]
        assert "`enabled.color` = `off`" in fields["This channel"]

    run_with_bot(services, scenario, timeout=90, settings_store=store)

    async def reopened():  # the next run of the bot sees the same settings
        again = SettingsStore(tmp_path / "settings.sqlite3")
        await again.open()
        settings = await again.channel(GUILD_ID, CHANNEL)
        await again.close()
        return settings

    settings = asyncio.run(reopened())
    assert not settings.enabled("color") and settings.write_style == "tiny"


def test_a_channel_cooldown_override_applies_and_help_answers(services, tmp_path):
    async def scenario(discord, bot):
        await bot.server_settings.set(GUILD_ID, CHANNEL, "cooldown.color", "1/60")
        first = await discord.run("color", name="forest")
        assert not first.final.ephemeral
        second = await discord.run("color", name="grass")
        assert second.final.ephemeral and "Slow down" in second.final.text

        shown = await discord.run("help")
        embed = shown.final.payload["data"]["embeds"][0]
        assert shown.final.ephemeral and "/write" in str(embed) and "/settings" in str(embed)
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert "Cooldown: 1 use per 60 s." in fields["/color"]  # this channel's, not the default

    run_with_bot(services, scenario, timeout=60)


def test_one_request_reads_the_channel_settings_once(services, monkeypatch):
    """The enabled check, the cooldown and the reply all need the channel's settings;
    a /write reads them from the database once, not once per question."""
    reads = []
    real = SettingsStore.channel

    async def counted(self, guild_id, channel_id):
        reads.append((guild_id, channel_id))
        return await real(self, guild_id, channel_id)

    monkeypatch.setattr(SettingsStore, "channel", counted)

    async def scenario(discord, bot):
        write = await discord.run("write", style="tiny", length=60, seed=1, wait=False)
        await write.wait_until(lambda c: bool(c.message_ids) and bool(c.message.get("components")))
        assert reads == [(GUILD_ID, CHANNEL)]

    run_with_bot(services, scenario, timeout=60)


def test_trained_styles_belong_to_their_server_and_publish_by_name(tmp_path):
    """Two servers may each train a style of the same name; publishing is by the owner
    only, and the scope of any server names the published ones."""

    async def scenario():
        store = SettingsStore(tmp_path / "settings.sqlite3")
        await store.open()
        await store.add_style("lore", 1)
        await store.add_style("lore", 2)
        await store.add_style("myth", 2)
        assert not await store.publish_style("myth", 1)  # not server 1's
        assert await store.publish_style("myth", 2)
        scopes = {guild: await store.scope(guild) for guild in (1, 3, None)}
        mine = await store.trained_styles(1)
        await store.add_style("myth", 2)  # trained anew: unpublished until published again
        again = await store.scope(1)
        await store.close()
        return scopes, mine, again

    scopes, mine, again = asyncio.run(scenario())
    assert all(scope.published == {"2/myth"} for scope in scopes.values())
    assert scopes[1].sees("1/lore") and not scopes[1].sees("2/lore") and scopes[3].sees("2/myth")
    assert mine == {(1, "lore")} and again.published == frozenset()


def test_settings_acknowledges_at_once_while_the_database_is_locked(services, tmp_path):
    """A write can wait seconds on a locked database (its busy timeout, then each write in
    turn), longer than Discord's 3 s for the first response: /settings defers first, so
    every one is acknowledged in time and then told what happened."""
    path = tmp_path / "settings.sqlite3"

    async def scenario(discord, bot):
        blocker = sqlite3.connect(path, timeout=0)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            runs = await asyncio.gather(
                *(
                    discord.run(command, permissions=MANAGE_GUILD, timeout=20, **options)
                    for command, options in (
                        ("settings set", {"key": "spoiler", "value": "on"}),
                        ("settings set", {"key": "buttons", "value": "anyone"}),
                        ("settings reset", {"key": "write_style"}),
                    )
                )
            )
        finally:
            blocker.rollback()
            blocker.close()
        for conversation in runs:
            assert conversation.callback.at - conversation.dispatched_at < 3.0
            assert conversation.callback.payload["type"] == 5 and conversation.callback.ephemeral
            assert conversation.final.ephemeral and "busy" in conversation.final.text
        settings = await bot.server_settings.channel(GUILD_ID, CHANNEL)
        assert not settings.spoiler and not settings.anyone_may_press

    run_with_bot(services, scenario, timeout=90, settings_store=SettingsStore(path))
