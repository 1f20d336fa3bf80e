"""Each member's recent generations, for `/history`: the command, its options, the seed it
actually used and a link to the answer, so that one press makes it again exactly.

Kept in the settings database (`bot.discord_app.store.settings`, schema version 4) for `days` days
and at most `KEPT` per member; `forget` deletes every row of a member. Nothing else the
bot stores is keyed by a member (settings and styles belong to servers, daily posts to
channels).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.discord_app.store.settings import SettingsStore

log = logging.getLogger(__name__)

KEPT = 10  # generations a member sees (and the most kept for them)
DAY_SECONDS = 86_400
# One prune deletes in batches (each its own short transaction, so commands' writes go
# between them) and at most `PRUNE_MOST` rows; the next run goes on from there.
PRUNE_BATCH = 500
PRUNE_MOST = 20_000


@dataclass(frozen=True)
class Generation:
    id: int
    user_id: int
    command: str
    options: dict
    seed: int | None
    at: float  # Unix time
    link: str  # the answer's message


class HistoryStore:
    def __init__(self, store: SettingsStore, days: int, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.days = days
        self.clock = clock
        self._writing: set[asyncio.Task] = set()

    def record_soon(
        self, user_id: int, command: str, options: dict, seed: int | None, link: str
    ) -> None:
        """Keep a generation without holding up the answer: the command is done when its
        answer is sent. This process's reads wait for its writes (`settled`)."""
        task = asyncio.get_running_loop().create_task(
            self.record(user_id, command, options, seed, link)
        )
        self._writing.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task) -> None:
        self._writing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a generation could not be kept in /history", exc_info=task.exception())

    async def settled(self) -> None:
        """Wait for the writes this process has started."""
        if self._writing:
            await asyncio.gather(*self._writing, return_exceptions=True)

    def _oldest(self) -> float:
        return self.clock().timestamp() - self.days * DAY_SECONDS

    async def record(
        self, user_id: int, command: str, options: dict, seed: int | None, link: str
    ) -> None:
        await self.store.execute(
            "INSERT INTO history (user_id, command, options, seed, at, link) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, command, json.dumps(options), seed, self.clock().timestamp(), link),
        )

    async def recent(self, user_id: int) -> list[Generation]:
        """The member's last `KEPT` generations within the kept days, newest first."""
        return await self._select("WHERE user_id = ? AND at >= ?", (user_id, self._oldest()))

    async def get(self, user_id: int, entry_id: int) -> Generation | None:
        """A listed entry, so already written: no wait for pending writes."""
        found = await self._select("WHERE user_id = ? AND id = ?", (user_id, entry_id), False)
        return found[0] if found else None

    async def _select(self, where: str, parameters: tuple, settle: bool = True) -> list[Generation]:
        if settle:
            await self.settled()
        rows = await self.store.fetch(
            "SELECT id, user_id, command, options, seed, at, link FROM history "
            f"{where} ORDER BY id DESC LIMIT {KEPT}",
            parameters,
        )
        return [
            Generation(id_, user, command, json.loads(options), seed, at, link)
            for id_, user, command, options, seed, at, link in rows
        ]

    async def forget(self, user_id: int) -> int:
        """Delete everything kept about a member; how many generations that was."""
        await self.settled()
        return await self.store.execute("DELETE FROM history WHERE user_id = ?", (user_id,))

    async def prune(self) -> int:
        """Drop what is past the kept days, and each member's beyond the last `KEPT`."""
        old = await self._drop("SELECT id FROM history WHERE at < ? ORDER BY id", self._oldest())
        beyond = await self._drop(
            "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY id "
            "DESC) AS place FROM history) WHERE place > ?",
            KEPT,
        )
        return old + beyond

    async def _drop(self, select_ids: str, parameter: object) -> int:
        dropped = 0
        while dropped < PRUNE_MOST:
            batch = min(PRUNE_BATCH, PRUNE_MOST - dropped)
            deleted = await self.store.execute(
                f"DELETE FROM history WHERE id IN ({select_ids} LIMIT ?)", (parameter, batch)
            )
            dropped += deleted
            if deleted < batch:
                break
        return dropped

    async def count(self, user_id: int) -> int:
        await self.settled()
        ((rows,),) = await self.store.fetch(
            "SELECT COUNT(*) FROM history WHERE user_id = ?", (user_id,)
        )
        return rows
