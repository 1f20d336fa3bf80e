"""Values `/settings` refuses (non-finite cooldowns, control and formatting characters),
and the migration that gives trained styles to the servers that trained them."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from bot.discord_app.store.settings import MIGRATIONS, SettingsStore, SettingsUnavailable
from bot.errors import InvalidInput


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("cooldown.color", "1/inf"),
        ("cooldown.color", "1/nan"),
        ("cooldown.color", "1/1e9"),
        ("write_style", "lore\u202eevil"),  # a right-to-left override
        ("write_style", "two\nlines"),
        ("write_style", "bell\x07"),
        ("write_style", "zero\u200bwidth"),
    ],
)
def test_unsafe_values_are_refused_and_nothing_is_written(tmp_path, key, value):
    async def scenario():
        store = SettingsStore(tmp_path / "settings.sqlite3")
        await store.open()
        with pytest.raises(InvalidInput):
            await store.set(1, None, key, value)
        rows = await store.stored(1)
        kept = await store.set(1, None, "cooldown.color", "2/30")
        await store.close()
        return rows, kept

    rows, kept = asyncio.run(scenario())
    assert rows == [] and kept == "2/30"


def test_styles_of_the_older_schema_keep_their_servers(tmp_path):
    path = tmp_path / "settings.sqlite3"
    with sqlite3.connect(path) as db:
        for migration in MIGRATIONS[:2]:
            db.executescript(migration)
        db.execute("PRAGMA user_version = 2")
        db.execute("INSERT INTO styles VALUES ('lore', 7, 1), ('myth', 8, 0)")

    async def scenario():
        store = SettingsStore(path)
        await store.open()
        result = await store.published_styles(), await store.trained_styles(8)
        await store.close()
        return result

    assert asyncio.run(scenario()) == ({(7, "lore")}, {(8, "myth")})


def test_recent_reads_are_reused_and_own_writes_show_at_once(tmp_path):
    """The checks before an acknowledgement read the database once per few seconds, not
    once per interaction; a change made here shows at once."""

    async def scenario():
        store = SettingsStore(tmp_path / "settings.sqlite3")
        await store.open()
        reads = []
        execute = store._reader.execute

        def counted(sql, *args):
            reads.append(sql.split()[0])
            return execute(sql, *args)

        store._reader.execute = counted
        first = await store.channel(1, 5)
        for _ in range(50):
            await store.channel(1, 5)
            await store.scope(1)
        selects = reads.count("SELECT")
        await store.set(1, None, "enabled.color", "off")
        after = await store.channel(1, 5)
        await store.close()
        return first, selects, after

    first, selects, after = asyncio.run(scenario())
    assert first.enabled("color") and not after.enabled("color")
    assert selects == 2  # one for the channel's settings, one for the published styles


def test_a_read_does_not_queue_behind_a_write_waiting_for_a_lock(tmp_path):
    """Another process holds the write lock, so this process's write waits (up to its
    busy timeout); a read meanwhile answers before that write gives up."""
    path = tmp_path / "settings.sqlite3"

    async def scenario():
        store = SettingsStore(path)
        await store.open()
        blocker = sqlite3.connect(path, timeout=0)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            write = asyncio.ensure_future(store.set(1, None, "spoiler", "on"))
            await asyncio.sleep(0.1)  # the write is waiting for the lock
            read = await store.channel(2, 3)
            read_first = not write.done()
            with pytest.raises(SettingsUnavailable):
                await write
        finally:
            blocker.rollback()
            blocker.close()
            await store.close()
        return read, read_first

    read, read_first = asyncio.run(scenario())
    assert read_first and not read.spoiler
