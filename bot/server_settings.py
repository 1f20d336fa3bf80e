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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite

from bot.errors import InvalidInput, UserFacingError

log = logging.getLogger(__name__)

COMMANDS = ("color", "write", "caption", "paint", "name")
BUTTON_POLICIES = ("owner", "anyone")
SERVER_WIDE = 0  # the channel id under which a server's own values are stored

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
        ok = rate >= 0 and per >= 0
    except ValueError:
        ok = False
    if not ok:
        raise InvalidInput("A cooldown is uses/seconds, e.g. 2/30 (0/0 switches it off).")
    return f"{rate}/{per:g}"


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
    **{f"enabled.{c}": _flag for c in COMMANDS},
    **{f"cooldown.{c}": _cooldown for c in COMMANDS},
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


class SettingsStore:
    """The settings database. `open()` once; every method is safe to call on the loop."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._broken: str | None = None  # why the defaults are in use, once logged
        self._lock = asyncio.Lock()

    @property
    def healthy(self) -> bool:
        return self._db is not None and self._broken is None

    async def open(self) -> None:
        """Open and migrate; on failure, log once and carry on with the defaults."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = await aiosqlite.connect(self.path, timeout=2.0)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._migrate(self._db)
        except (sqlite3.Error, OSError) as error:
            await self._fail(error)

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

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
        try:
            async with self._db.execute(
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
        return ChannelSettings({key: value for _, key, value in ordered})

    async def stored(self, guild_id: int) -> list[tuple[int, str, str]]:
        """Every value a server set: (channel id or 0, key, value)."""
        if not self.healthy:
            raise SettingsUnavailable(self._unavailable())
        async with self._db.execute(
            "SELECT channel_id, key, value FROM settings WHERE guild_id = ? "
            "ORDER BY channel_id, key",
            (guild_id,),
        ) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]

    async def set(self, guild_id: int, channel_id: int | None, key: str, value: str) -> str:
        """Check and store one value (`channel_id` None: server-wide); returns it as kept."""
        if key not in KEYS:
            raise InvalidInput(f"Unknown setting {key!r}; see /settings show.")
        value = KEYS[key](value)
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

    async def _write(self, sql: str, parameters: tuple) -> None:
        if not self.healthy:
            raise SettingsUnavailable(self._unavailable())
        async with self._lock:
            try:
                await self._db.execute(sql, parameters)
                await self._db.commit()
            except sqlite3.OperationalError as error:  # locked, busy: nothing was written
                log.warning("settings database %s: %s; the change was not saved", self.path, error)
                raise SettingsUnavailable(
                    "The settings database is busy and nothing was changed; try again shortly."
                ) from None
            except sqlite3.Error as error:
                await self._fail(error)
                raise SettingsUnavailable(self._unavailable()) from None

    async def add_style(self, style: str, guild_id: int) -> None:
        """A style trained in `guild_id`: offered there only until it is published."""
        await self._write(
            "INSERT INTO styles (style, guild_id, published) VALUES (?, ?, 0) "
            "ON CONFLICT (style) DO UPDATE SET guild_id = excluded.guild_id, published = 0",
            (style, guild_id),
        )

    async def publish_style(self, style: str, guild_id: int) -> bool:
        """Offer a server's style everywhere; False if the style is not that server's."""
        owner = await self.style_owner(style)
        if owner is None or owner[0] != guild_id:
            return False
        await self._write("UPDATE styles SET published = 1 WHERE style = ?", (style,))
        return True

    async def style_owner(self, style: str) -> tuple[int, bool] | None:
        """(server, published) of a trained style; None for the bot's own styles."""
        if not self.healthy:
            return None
        try:
            async with self._db.execute(
                "SELECT guild_id, published FROM styles WHERE style = ?", (style,)
            ) as cursor:
                row = await cursor.fetchone()
        except sqlite3.Error as error:
            log.warning("settings database %s: %s", self.path, error)
            return None
        return (int(row[0]), bool(row[1])) if row else None

    async def styles_hidden_from(self, guild_id: int | None) -> set[str]:
        """The trained styles not offered in `guild_id` (other servers' unpublished ones),
        in one query: autocomplete asks on every keystroke."""
        if not self.healthy:
            return set()
        try:
            async with self._db.execute(
                "SELECT style FROM styles WHERE published = 0 AND guild_id IS NOT ?",
                (guild_id,),
            ) as cursor:
                rows = await cursor.fetchall()
        except sqlite3.Error as error:
            log.warning("settings database %s: %s", self.path, error)
            return set()
        return {row[0] for row in rows}

    async def style_offered(self, style: str, guild_id: int | None) -> bool:
        """Whether `style` may be used in `guild_id`: the bot's own, published, or its own."""
        owner = await self.style_owner(style)
        return owner is None or owner[1] or owner[0] == guild_id

    def _unavailable(self) -> str:
        return (
            "Settings cannot be saved right now (the bot's settings database is unavailable; "
            "its owner has been told in the log). The defaults apply meanwhile."
        )
