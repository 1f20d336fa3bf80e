"""`/history`: each generation is kept with the seed it used, a press makes it again
exactly, old ones are dropped, and `/history forget` leaves nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.discord_app.replies import plain_text
from bot.discord_app.store import history as history_store
from bot.discord_app.store.history import KEPT, HistoryStore
from bot.discord_app.store.settings import SettingsStore
from tests.conftest import Clock
from tests.discord_harness import run_with_bot
from tests.local_discord import GUILD_ID, USER_ID

OTHER = USER_ID + 1

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def no_cooldowns(monkeypatch):
    for command in ("COLOR", "WRITE", "CAPTION", "PAINT", "NAME"):
        monkeypatch.setenv(f"RNNBOT_COOLDOWN_{command}", "0/0")


def test_history_keeps_the_last_ten_for_the_kept_days_and_forgets_on_request(tmp_path):
    clock = Clock(START)

    async def scenario():
        store = SettingsStore(tmp_path / "s.sqlite3")
        await store.open()
        history = HistoryStore(store, days=30, clock=clock)
        try:
            for seed in range(12):
                await history.record(1, "paint", {"temperature": 1.0}, seed, "https://x/1")
                clock.now += timedelta(days=1)
            await history.record(2, "name", {"color": "#112233"}, 5, "https://x/2")
            shown = [g.seed for g in await history.recent(1)]
            assert await history.prune() == 2 and await history.count(1) == KEPT
            clock.now += timedelta(days=25)  # the first few of the last ten pass 30 days
            aged = [g.seed for g in await history.recent(1)]
            forgotten = await history.forget(1)
            return shown, aged, forgotten, await history.count(1), await history.count(2)
        finally:
            await store.close()

    shown, aged, forgotten, left, other = asyncio.run(scenario())
    assert shown == list(range(11, 1, -1))  # newest first, ten of them
    assert aged == list(range(11, 6, -1))
    assert (forgotten, left, other) == (KEPT, 0, 1)


def test_a_write_scheduled_just_before_forget_does_not_come_back(tmp_path):
    async def scenario():
        store = SettingsStore(tmp_path / "s.sqlite3")
        await store.open()
        history = HistoryStore(store, days=30, clock=Clock(START))
        try:
            history.record_soon(1, "name", {"color": "#112233"}, 5, "https://x/1")
            forgotten = await history.forget(1)
            await asyncio.sleep(0.1)
            return forgotten, await history.count(1)
        finally:
            await store.close()

    assert asyncio.run(scenario()) == (1, 0)


def test_a_prune_deletes_in_bounded_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(history_store, "PRUNE_BATCH", 2)
    monkeypatch.setattr(history_store, "PRUNE_MOST", 5)
    clock = Clock(START)

    async def scenario():
        store = SettingsStore(tmp_path / "s.sqlite3")
        await store.open()
        history = HistoryStore(store, days=1, clock=clock)
        changed = []
        execute = store.execute

        async def counted(sql, parameters=()):
            changed.append(await execute(sql, parameters))
            return changed[-1]

        try:
            for user in range(8):
                await history.record(user, "name", {}, 1, "https://x")
            clock.now += timedelta(days=2)
            store.execute = counted
            first, second = await history.prune(), await history.prune()
            return first, second, max(changed)
        finally:
            await store.close()

    assert asyncio.run(scenario()) == (5, 3, 2)


def finished(conversation) -> bool:
    ids = conversation.message_ids
    return bool(ids) and bool(conversation.store.get(ids[0], {}).get("components"))


def painting(conversation) -> bytes:
    return conversation.posts[-1].files["painting.png"]


def body(conversation) -> str:
    return plain_text(conversation.message["content"].partition("\n")[2])


def listing(conversation) -> list[str]:
    """The lines of the /history embed (a follow-up of the deferred answer)."""
    payload = conversation.final.payload
    return payload.get("data", payload)["embeds"][0]["description"].split("\n")


async def kept(bot, count: int) -> None:
    async with asyncio.timeout(10):
        while await bot.history.count(USER_ID) < count:
            await asyncio.sleep(0.02)


def test_history_reruns_exactly_in_servers_and_dms_and_forget_leaves_nothing(services):
    async def scenario(discord, bot):
        paint = await discord.run("paint", temperature=0.7, wait=False)
        await paint.wait_until(finished)
        write = await discord.run("write", style="tiny", length=80, wait=False)
        await write.wait_until(finished)
        dm = await discord.run("name", color="#7a9e3b", user_installed=True)
        await kept(bot, 3)  # the answer is out just before it is recorded

        real = bot.history.recent

        async def slow(user_id: int) -> list:  # a busy database: past Discord's 3 s
            await asyncio.sleep(3.5)
            return await real(user_id)

        bot.history.recent = slow
        shown = await discord.run("history show")
        bot.history.recent = real
        assert shown.final.ephemeral
        lines = listing(shown)
        assert lines[0].startswith("**1.** /name color:") and "7a9e3b" in lines[0]
        assert lines[1].startswith("**2.** /write style:'tiny'") and "length:80" in lines[1]
        assert lines[2].startswith("**3.** /paint temperature:0.7") and "seed " in lines[2]
        assert "](https://discord.com/channels/" in lines[2]
        assert [b["label"] for b in shown.buttons()] == ["1", "2", "3"]

        again = await discord.press(shown, "3", wait=False)
        await again.wait_until(finished)
        assert painting(again) == painting(paint)
        rewritten = await discord.press(shown, "2", wait=False)
        await rewritten.wait_until(finished)
        assert body(rewritten) == body(write)

        await kept(bot, 5)
        in_dm = await discord.run("history show", user_installed=True)
        listed = listing(in_dm)
        assert len(listed) == 5  # the reruns are generations too
        place = next(str(n) for n, line in enumerate(listed, 1) if "/name" in line)
        renamed = await discord.press(in_dm, place)
        assert renamed.final.payload["embeds"] == dm.final.payload["embeds"]

        await kept(bot, 6)
        await bot.server_settings.set(GUILD_ID, None, "buttons", "anyone")
        other = await discord.press(shown, "3", user_id=OTHER)  # not theirs, whatever the policy
        assert other.final.ephemeral and "for the member who ran /history" in other.final.text
        assert await bot.history.count(USER_ID) == 6 and await bot.history.count(OTHER) == 0
        entry = shown.buttons()[2]["custom_id"].split(":")[3]
        shown.buttons()[2]["custom_id"] = f"history:rerun:{OTHER}:{entry}:3"  # forged
        forged = await discord.press(shown, "3", user_id=OTHER)
        assert forged.final.ephemeral and "no longer in your history" in forged.final.text
        shown.buttons()[2]["custom_id"] = f"history:rerun:{USER_ID}:{'9' * 30}:3"
        mangled = await discord.press(shown, "3")
        assert mangled.final.ephemeral and "no longer works" in mangled.final.text
        assert all(len(b["custom_id"]) <= 100 for b in in_dm.buttons())

        forget = await discord.run("history forget")
        assert forget.final.ephemeral
        assert "Deleted your history (6 generations)" in forget.final.text
        assert await bot.history.count(USER_ID) == 0
        rows = await bot.server_settings.fetch("SELECT COUNT(*) FROM history")
        assert rows == [(0,)]
        empty = await discord.run("history show")
        assert empty.final.text.startswith("Nothing yet")
        gone = await discord.press(shown, "1")
        assert gone.final.ephemeral and "no longer in your history" in gone.final.text

        await bot.tree.sync()
        synced = {c["name"]: c for c in discord.synced_commands}["history"]
        assert synced["integration_types"] == [0, 1] and sorted(synced["contexts"]) == [0, 1, 2]

    run_with_bot(services, scenario, timeout=120)
