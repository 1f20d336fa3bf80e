"""Fair admission to the models: a bounded queue per model and one job per user per model.

A full queue answers at once ("busy, try again in N s") instead of letting requests pile
up, and a user who already has a job waiting or running on a model cannot queue another,
so nobody can crowd others out.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field

from bot.errors import UserFacingError


class Busy(UserFacingError):
    pass


@dataclass
class _Lane:
    semaphore: asyncio.Semaphore
    users: set[int] = field(default_factory=set)
    recent_seconds: list[float] = field(default_factory=list)

    def typical_seconds(self) -> float:
        recent = self.recent_seconds[-20:]
        return sum(recent) / len(recent) if recent else 5.0


class Ticket:
    """A place in a lane, from admission until the job ends (use with `async with`).

    `wait_turn()` waits for a free slot; leaving the block always frees the place and
    the slot, whatever happened inside.
    """

    def __init__(self, lane: _Lane, user_id: int) -> None:
        self.lane = lane
        self.user_id = user_id
        self._started: float | None = None

    async def wait_turn(self) -> None:
        await self.lane.semaphore.acquire()
        self._started = time.perf_counter()

    async def __aenter__(self) -> Ticket:
        return self

    async def __aexit__(self, *exc) -> None:
        if self._started is not None:
            self.lane.semaphore.release()
            self.lane.recent_seconds.append(time.perf_counter() - self._started)
        self.lane.users.discard(self.user_id)


class Admission:
    def __init__(self, concurrency: int = 1, max_waiting: int = 4) -> None:
        self.concurrency = concurrency
        self.max_waiting = max_waiting
        self._lanes: dict[str, _Lane] = defaultdict(
            lambda: _Lane(asyncio.Semaphore(self.concurrency))
        )

    def enter(self, lane_name: str, user_id: int) -> Ticket:
        """Admit or refuse at once (refusal is a Busy error with a friendly wait time)."""
        lane = self._lanes[lane_name]
        if user_id in lane.users:
            raise Busy("You already have one of these on the way; wait for it to finish.")
        if len(lane.users) >= self.concurrency + self.max_waiting:
            wait = lane.typical_seconds() * len(lane.users) / self.concurrency
            raise Busy(f"The {lane_name} model is busy right now; try again in {wait:.0f} s.")
        lane.users.add(user_id)
        return Ticket(lane, user_id)
