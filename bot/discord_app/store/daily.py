"""Each channel's daily post: what it posts and when, and the days already claimed.

Kept in the settings database (`bot.discord_app.store.settings`, schema version 4). A post is due
once its local time has come on a local day; whoever first inserts (channel, day) into
`daily_claims` posts it, so processes sharing the file never both do, a restart does not
post twice, and a failed post waits for the next day instead of retrying in a loop.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.discord_app.store.settings import SettingsStore, SettingsUnavailable
from bot.errors import InvalidInput

# The commands a channel can have posted daily, and what each posts: the one list the
# /settings daily choices, its confirmation and this store's check read.
DAILY_COMMANDS = {
    "paint": "a painting of the day",
    "color": "a colour of the day with its invented name",
    "write": "a few lines in the server's style",
    "name": "invented names for a colour of the day",
}
DEFAULT_ZONE = "UTC"
_CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_time(text: str) -> time:
    """ "HH:MM" on a 24-hour clock."""
    match = _CLOCK_TIME.match(text.strip())
    if match is None:
        raise InvalidInput(f"{text!r} is not a time; give HH:MM on a 24-hour clock, e.g. 09:30.")
    return time(int(match[1]), int(match[2]))


def parse_zone(text: str | None) -> str:
    """An IANA time zone name (default UTC), checked against the zone database."""
    name = (text or DEFAULT_ZONE).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"Unknown time zone {name!r}; use a name such as Europe/Paris, "
            "America/New_York or Asia/Tokyo (default UTC)."
        ) from None
    return name


@dataclass(frozen=True)
class DailyPost:
    channel_id: int
    guild_id: int
    command: str
    at: time  # local time of day, in `timezone`
    timezone: str
    since: float  # when it was set (Unix time): no post for a time that passed before
    claimed: str | None = None  # the last day some process claimed (as read)

    def due(self, now: datetime) -> str | None:
        """The local day (ISO date) whose post is due at `now` (aware), or None.

        Only today's post can be due: a bot that was down at the time posts when it is
        back the same day, never for the days it missed."""
        zone = ZoneInfo(self.timezone)
        today = now.astimezone(zone).date()
        scheduled = datetime.combine(today, self.at, tzinfo=zone)
        if now >= scheduled and scheduled.timestamp() >= self.since:
            return today.isoformat()
        return None

    def next_post(self, now: datetime) -> datetime:
        """When the next post is made (local time), for the confirmation."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        scheduled = datetime.combine(local.date(), self.at, tzinfo=zone)
        return scheduled if scheduled > local else scheduled + timedelta(days=1)


class DailyStore:
    def __init__(self, store: SettingsStore) -> None:
        self.store = store

    async def set(
        self, guild_id: int, channel_id: int, command: str, at: time, zone: str, now: datetime
    ) -> DailyPost:
        """One schedule per channel: a new one replaces it."""
        if command not in DAILY_COMMANDS:
            raise InvalidInput(f"Choose one of: {', '.join(DAILY_COMMANDS)}.")
        post = DailyPost(channel_id, guild_id, command, at, parse_zone(zone), now.timestamp())
        await self.store.execute(
            "INSERT INTO daily_posts (channel_id, guild_id, command, at, timezone, since) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET "
            "guild_id = excluded.guild_id, command = excluded.command, at = excluded.at, "
            "timezone = excluded.timezone, since = excluded.since",
            (channel_id, guild_id, command, at.strftime("%H:%M"), post.timezone, post.since),
        )
        return post

    async def stop(self, channel_id: int) -> bool:
        """Stop a channel's post; False if it had none."""
        removed = await self.store.execute(
            "DELETE FROM daily_posts WHERE channel_id = ?", (channel_id,)
        )
        await self.store.execute("DELETE FROM daily_claims WHERE channel_id = ?", (channel_id,))
        return removed > 0

    async def stop_guild(self, guild_id: int) -> int:
        """Stop every post of a server the bot left; how many there were."""
        await self.store.execute(
            "DELETE FROM daily_claims WHERE channel_id IN "
            "(SELECT channel_id FROM daily_posts WHERE guild_id = ?)",
            (guild_id,),
        )
        return await self.store.execute("DELETE FROM daily_posts WHERE guild_id = ?", (guild_id,))

    async def get(self, channel_id: int) -> DailyPost | None:
        """The channel's post, if it has one."""
        found = await self.posts("WHERE channel_id = ?", (channel_id,))
        return found[0] if found else None

    async def posts(self, where: str = "", parameters: tuple = ()) -> list[DailyPost]:
        rows = await self.store.fetch(
            "SELECT channel_id, guild_id, command, at, timezone, since, (SELECT MAX(day) FROM "
            "daily_claims AS c WHERE c.channel_id = p.channel_id) "
            f"FROM daily_posts AS p {where}",
            parameters,
        )
        return [
            DailyPost(channel, guild, command, parse_time(at), zone, since, claimed)
            for channel, guild, command, at, zone, since, claimed in rows
        ]

    async def claim(self, channel_id: int, day: str) -> bool:
        """Whether this process posts `day`'s post (the first to ask gets it); older
        claims of the channel are dropped, so one row per channel remains."""
        won = await self.store.execute(
            "INSERT OR IGNORE INTO daily_claims (channel_id, day) VALUES (?, ?)",
            (channel_id, day),
        )
        if won:
            with contextlib.suppress(SettingsUnavailable):  # an old claim left is harmless
                await self.store.execute(
                    "DELETE FROM daily_claims WHERE channel_id = ? AND day < ?", (channel_id, day)
                )
        return won == 1
