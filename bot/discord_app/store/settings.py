"""Per-server and per-channel settings, persisted in SQLite through aiosqlite.

A server sets values for itself (channel 0) and may override them for one channel; a
channel's value wins over its server's, which wins over the defaults. What can be set is
listed in `KEYS` with how its text is checked. Every write is one transaction (SQLite's
own atomic commit, WAL journal), and the schema carries its version in `user_version`,
so later versions migrate it in order.

The bot must never fall over on its settings: a database that is corrupt, locked or
unreadable is logged once, clearly, and every lookup answers the defaults; a write then
fails with a user-facing error instead of a crash.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiosqlite

from bot.commands import PUBLIC
from bot.contract.trained import StyleScope, model_name
from bot.errors import InvalidInput, UserFacingError

log = logging.getLogger(__name__)
T = TypeVar("T")

BUTTON_POLICIES = ("owner", "anyone")
SERVER_WIDE = 0  # the channel id under which a server's own values are stored
CACHE_SECONDS = 5.0  # how long a read value is reused (see `Recent`)
PUBLISHED = "published styles"  # the cache's key for them
MAX_COOLDOWN_SECONDS = 86_400  # a day; also keeps out inf and nan
# Control, format (RTL overrides, zero-width), line and paragraph separators: a value
# holding one could restyle or break the replies that echo it.
_UNPRINTABLE = ("Cc", "Cf", "Zl", "Zp")

# Each migration takes the schema from version i to i + 1.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE settings (
        guild_id INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (guild_id, channel_id, key)
    );
    """,
    """
    CREATE TABLE styles (
        style TEXT PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        published INTEGER NOT NULL DEFAULT 0
    );
    """,
    # A style belongs to the server that trained it: two servers may each have one of
    # the same name (`bot.contract.trained`), so the key is the pair.
    """
    CREATE TABLE trained_styles (
        guild_id INTEGER NOT NULL,
        style TEXT NOT NULL,
        published INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (guild_id, style)
    );
    INSERT INTO trained_styles (guild_id, style, published)
        SELECT guild_id, style, published FROM styles;
    DROP TABLE styles;
    """,
    # A channel's daily post, and the days claimed for it: the first process to insert
    # (channel, day) posts, so several shard processes sharing the file post once. And
    # each member's recent generations (`bot.discord_app.store.history`).
    """
    CREATE TABLE daily_posts (
        channel_id INTEGER PRIMARY KEY,
        guild_id INTEGER NOT NULL,
        command TEXT NOT NULL,
        at TEXT NOT NULL,
        timezone TEXT NOT NULL,
        since REAL NOT NULL
    );
    CREATE TABLE daily_claims (
        channel_id INTEGER NOT NULL, day TEXT NOT NULL, PRIMARY KEY (channel_id, day)
    );
    CREATE TABLE history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL,
        command TEXT NOT NULL,
        options TEXT NOT NULL,
        seed INTEGER,
        at REAL NOT NULL,
        link TEXT NOT NULL
    );
    CREATE INDEX history_by_user ON history (user_id, id);
    """,
)


class SettingsUnavailable(UserFacingError):
    pass


def parse_cooldown(text: str) -> tuple[int, float]:
    """ "uses/seconds" as (uses, seconds); ValueError if it is not that shape. Shared by
    the settings' check, the settings' reading and the environment's RNNBOT_COOLDOWN_*."""
    rate, slash, per = text.partition("/")
    if slash != "/":
        raise ValueError(f"{text!r} is not uses/seconds")
    return int(rate), float(per)


def _cooldown(text: str) -> str:
    try:
        rate, per = parse_cooldown(text)
        ok = rate >= 0 and 0 <= per <= MAX_COOLDOWN_SECONDS
    except ValueError:
        ok = False
    if not ok:
        raise InvalidInput(
            "A cooldown is uses/seconds, e.g. 2/30, with at most "
            f"{MAX_COOLDOWN_SECONDS:,} seconds (0/0 switches it off)."
        )
    return f"{rate}/{per:g}"


def printable(text: str) -> str:
    """`text` if it has no control or formatting characters; InvalidInput otherwise."""
    if any(unicodedata.category(c) in _UNPRINTABLE for c in text):
        raise InvalidInput("A setting's value cannot hold control or formatting characters.")
    return text


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in options:
            raise InvalidInput(f"Choose one of: {', '.join(options)}.")
        return text

    return check


def _flag(text: str) -> str:
    if text.lower() not in ("on", "off"):
        raise InvalidInput("Choose on or off.")
    return text.lower()


def _style(text: str) -> str:
    text = text.strip()
    if not 1 <= len(text) <= 100:
        raise InvalidInput("A style name is 1 to 100 characters.")
    return text


KEYS: dict[str, Callable[[str], str]] = {
    **{f"enabled.{c}": _flag for c in PUBLIC},
    **{f"cooldown.{c}": _cooldown for c in PUBLIC},
    "write_style": _style,
    "buttons": _choice(BUTTON_POLICIES),
    "spoiler": _flag,
}


@dataclass(frozen=True)
class ChannelSettings:
    """What applies in one channel: defaults, then the server's values, then the channel's."""

    values: dict[str, str] = field(default_factory=dict)

    def enabled(self, command: str) -> bool:
        return self.values.get(f"enabled.{command}", "on") == "on"

    def cooldown(self, command: str) -> tuple[int, float] | None:
        """The override (uses, seconds), or None for the bot's own default."""
        raw = self.values.get(f"cooldown.{command}")
        return None if raw is None else parse_cooldown(raw)

    @property
    def write_style(self) -> str | None:
        return self.values.get("write_style")

    @property
    def anyone_may_press(self) -> bool:
        return self.values.get("buttons", "owner") == "anyone"

    @property
    def spoiler(self) -> bool:
        return self.values.get("spoiler", "off") == "on"


DEFAULTS = ChannelSettings()


class Recent:
    """Values read in the last `seconds`: the checks that run before an interaction is
    acknowledged (enabled, cooldown, styles) then wait on no database read in the common
    case, so a busy machine or a locked database cannot push the acknowledgement past
    Discord's 3 seconds. Other processes' writes show within `seconds`; this process's at
    once (a write clears it)."""

    def __init__(self, seconds: float, most: int = 10_000) -> None:
        self.seconds = seconds
        self.most = most
        self.version = 0  # counts the clears: a read that began before one is not kept
        self._values: dict[object, tuple[float, object]] = {}

    def get(self, key: object) -> object | None:
        found = self._values.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: object, value: T, version: int) -> T:
        """Keep `value`, read since `version`, unless a write has cleared the cache since
        (the read may then hold the values from before the write)."""
        if version != self.version:
            return value
        if len(self._values) >= self.most:
            self._values.clear()  # a crude bound: reads refill what is in use
        self._values[key] = (time.monotonic() + self.seconds, value)
        return value

    def clear(self) -> None:
        self._values.clear()
        self.version += 1


class SettingsStore:
    """The settings database. `open()` once; every method is safe to call on the loop."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None  # writes (and the migrations)
        # Reads have their own connection, and so their own thread: in WAL mode a read
        # never waits for a writer, but on one connection it would queue behind a write
        # that waits for another process's lock, and hold up an acknowledgement.
        self._reader: aiosqlite.Connection | None = None
        self._broken: str | None = None  # why the defaults are in use, once logged
        self._lock = asyncio.Lock()
        self._recent = Recent(CACHE_SECONDS)

    @property
    def healthy(self) -> bool:
        return self._reader is not None and self._broken is None

    async def open(self) -> None:
        """Open and migrate; on failure, log once and carry on with the defaults."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = await aiosqlite.connect(self.path, timeout=2.0)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._migrate(self._db)
            self._reader = await aiosqlite.connect(self.path, timeout=2.0)
        except (sqlite3.Error, OSError) as error:
            await self._fail(error)

    async def close(self) -> None:
        for connection in (self._reader, self._db):
            if connection is not None:
                await connection.close()
        self._db = self._reader = None

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        async with db.execute("PRAGMA user_version") as cursor:
            (version,) = await cursor.fetchone()
        if version > len(MIGRATIONS):
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this bot knows ({len(MIGRATIONS)})"
            )
        for number in range(version, len(MIGRATIONS)):
            await db.executescript(
                f"BEGIN; {MIGRATIONS[number]} PRAGMA user_version = {number + 1}; COMMIT;"
            )
            log.info("settings database %s migrated to version %d", self.path, number + 1)

    async def _fail(self, error: Exception) -> None:
        if self._broken is None:
            log.error(
                "settings database %s cannot be used (%s); every server gets the default "
                "settings until it is fixed or removed",
                self.path,
                error,
            )
        self._broken = str(error)

    async def channel(self, guild_id: int | None, channel_id: int | None) -> ChannelSettings:
        """The settings that apply in a channel (defaults outside servers and on failure)."""
        if guild_id is None or not self.healthy:
            return DEFAULTS
        key = (guild_id, channel_id or SERVER_WIDE)
        if (cached := self._recent.get(key)) is not None:
            return cached
        version = self._recent.version
        try:
            async with self._reader.execute(
                "SELECT channel_id, key, value FROM settings "
                "WHERE guild_id = ? AND channel_id IN (?, ?)",
                (guild_id, SERVER_WIDE, channel_id or SERVER_WIDE),
            ) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.OperationalError as error:  # locked, busy: this lookup only
            log.warning("settings database %s: %s; defaults for this request", self.path, error)
            return DEFAULTS
        except sqlite3.Error as error:
            await self._fail(error)
            return DEFAULTS
        ordered = sorted(rows, key=lambda row: row[0] != SERVER_WIDE)  # server first
        settings = ChannelSettings({k: value for _, k, value in ordered})
        return self._recent.put(key, settings, version)

    async def stored(self, guild_id: int) -> list[tuple[int, str, str]]:
        """Every value a server set: (channel id or 0, key, value)."""
        return await self.fetch(
            "SELECT channel_id, key, value FROM settings WHERE guild_id = ? "
            "ORDER BY channel_id, key",
            (guild_id,),
        )

    async def fetch(self, sql: str, parameters: tuple = ()) -> list[tuple]:
        """Rows from any table kept here (the daily posts and history modules use it too)."""
        if not self.healthy:
            raise SettingsUnavailable(self._unavailable())
        async with self._reader.execute(sql, parameters) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def execute(self, sql: str, parameters: tuple = ()) -> int:
        """One write to a table kept here besides the cached ones (settings, styles), in
        its own transaction: the rows it changed."""
        return await self._write(sql, parameters, cached=False)

    async def set(self, guild_id: int, channel_id: int | None, key: str, value: str) -> str:
        """Check and store one value (`channel_id` None: server-wide); returns it as kept."""
        if key not in KEYS:
            raise InvalidInput(f"Unknown setting {key!r}; see /settings show.")
        value = KEYS[key](printable(value))
        await self._write(
            "INSERT INTO settings (guild_id, channel_id, key, value) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (guild_id, channel_id, key) DO UPDATE SET value = excluded.value",
            (guild_id, channel_id or SERVER_WIDE, key, value),
        )
        return value

    async def reset(self, guild_id: int, channel_id: int | None, key: str) -> None:
        """Forget one value of a channel (or of the server itself)."""
        if key not in KEYS:
            raise InvalidInput(f"Unknown setting {key!r}; see /settings show.")
        await self._write(
            "DELETE FROM settings WHERE guild_id = ? AND channel_id = ? AND key = ?",
            (guild_id, channel_id or SERVER_WIDE, key),
        )

    async def _write(self, sql: str, parameters: tuple, cached: bool = True) -> int:
        if not self.healthy:
            raise SettingsUnavailable(self._unavailable())
        async with self._lock:
            try:
                cursor = await self._db.execute(sql, parameters)
                await self._db.commit()
                return cursor.rowcount
            except sqlite3.OperationalError as error:  # locked, busy: nothing was written
                log.warning("settings database %s: %s; the change was not saved", self.path, error)
                raise SettingsUnavailable(
                    "The settings database is busy and nothing was changed; try again shortly."
                ) from None
            except sqlite3.Error as error:
                await self._fail(error)
                raise SettingsUnavailable(self._unavailable()) from None
            finally:
                if cached:
                    self._recent.clear()  # this process's own change shows at once

    async def add_style(self, style: str, guild_id: int) -> None:
        """A style trained in `guild_id`: offered there only until it is published (again,
        when it is trained anew)."""
        await self._write(
            "INSERT INTO trained_styles (guild_id, style, published) VALUES (?, ?, 0) "
            "ON CONFLICT (guild_id, style) DO UPDATE SET published = 0",
            (guild_id, style),
        )

    async def publish_style(self, style: str, guild_id: int) -> bool:
        """Offer a server's style everywhere; False if the server has no style so named."""
        if (guild_id, style) not in await self.trained_styles(guild_id):
            return False
        await self._write(
            "UPDATE trained_styles SET published = 1 WHERE guild_id = ? AND style = ?",
            (guild_id, style),
        )
        return True

    async def trained_styles(self, guild_id: int) -> set[tuple[int, str]]:
        """(server, style) of the styles `guild_id` trained."""
        return await self._styles(
            "SELECT guild_id, style FROM trained_styles WHERE guild_id = ?", (guild_id,)
        )

    async def every_trained_style(self) -> set[tuple[int, str]]:
        """(server, style) of every style trained from Discord."""
        return await self._styles("SELECT guild_id, style FROM trained_styles", ())

    async def published_styles(self) -> set[tuple[int, str]]:
        """(server, style) of every published style."""
        if (cached := self._recent.get(PUBLISHED)) is not None:
            return cached
        version = self._recent.version
        published = await self._styles(
            "SELECT guild_id, style FROM trained_styles WHERE published = 1", ()
        )
        return self._recent.put(PUBLISHED, published, version) if self.healthy else published

    async def scope(self, guild_id: int | None) -> StyleScope:
        """The trained styles a request in `guild_id` may use: its own and the published
        ones. On a database failure, its own only (they need no lookup)."""
        published = await self.published_styles()
        return StyleScope(guild_id, frozenset(model_name(g, s) for g, s in published))

    async def _styles(self, sql: str, parameters: tuple) -> set[tuple[int, str]]:
        if not self.healthy:
            return set()
        try:
            async with self._reader.execute(sql, parameters) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.Error as error:
            log.warning("settings database %s: %s", self.path, error)
            return set()
        return {(int(guild), style) for guild, style in rows}

    def _unavailable(self) -> str:
        return (
            "Settings cannot be saved right now (the bot's settings database is unavailable; "
            "its owner has been told in the log). The defaults apply meanwhile."
        )
