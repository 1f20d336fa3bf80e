"""Fair admission to the models: per model, up to `concurrency` jobs run together (the
batcher steps them in one call), a bounded line waits behind them in order, and a user
has one job per model at a time.

A full line answers at once ("busy, try again in N s") instead of letting requests pile
up; a waiting user is told their place in line as it changes. Waiting is a coroutine,
never a parked thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.errors import UserFacingError

POSITION_INTERVAL = 1.0  # seconds between place-in-line updates


class Busy(UserFacingError):
    pass


@dataclass
class _Lane:
    concurrency: int
    running: int = 0
    waiting: deque[Ticket] = field(default_factory=deque)
    users: set[int] = field(default_factory=set)
    recent_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=20))

    def typical_seconds(self) -> float:
        return sum(self.recent_seconds) / len(self.recent_seconds) if self.recent_seconds else 5.0

    def promote(self) -> None:
        while self.waiting and self.running < self.concurrency:
            ticket = self.waiting.popleft()
            self.running += 1
            ticket._admitted.set()


class Ticket:
    """A place in a lane, from admission until the job ends (use with `async with`).

    `wait_turn()` waits in line for a slot; leaving the block always frees the place and
    the slot, whatever happened inside (cancellation included).
    """

    def __init__(self, lane: _Lane, user_id: int) -> None:
        self.lane = lane
        self.user_id = user_id
        self._admitted = asyncio.Event()
        self._started: float | None = None

    @property
    def position(self) -> int:
        """1 for the next in line; 0 once running."""
        if self._admitted.is_set():
            return 0
        try:
            return self.lane.waiting.index(self) + 1
        except ValueError:
            return 0

    async def wait_turn(self, on_position: Callable[[int], Awaitable[None]] | None = None) -> None:
        """Wait for a slot; `on_position(place)` is awaited when the place in line changes."""
        lane = self.lane
        if not self._admitted.is_set() and self not in lane.waiting:
            lane.waiting.append(self)
            lane.promote()
        shown = None
        while not self._admitted.is_set():
            place = self.position
            if on_position is not None and place != shown:
                shown = place
                await on_position(place)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._admitted.wait(), POSITION_INTERVAL)
        self._started = time.perf_counter()

    async def __aenter__(self) -> Ticket:
        return self

    async def __aexit__(self, *exc) -> None:
        lane = self.lane
        if self._admitted.is_set():
            lane.running -= 1
            if self._started is not None:
                lane.recent_seconds.append(time.perf_counter() - self._started)
        elif self in lane.waiting:
            lane.waiting.remove(self)
        lane.users.discard(self.user_id)
        lane.promote()


class Admission:
    """`job_seconds` bounds each job from its command to its answer, waiting included."""

    def __init__(
        self, concurrency: int = 32, max_waiting: int = 32, job_seconds: float = 840.0
    ) -> None:
        self.concurrency = concurrency
        self.max_waiting = max_waiting
        self.job_seconds = job_seconds
        self._lanes: dict[str, _Lane] = {}

    def lanes(self) -> dict[str, tuple[int, int]]:
        """(running, waiting) per lane, for the metrics."""
        return {name: (lane.running, len(lane.waiting)) for name, lane in self._lanes.items()}

    def enter(self, lane_name: str, user_id: int) -> Ticket:
        """Admit or refuse at once (refusal is a Busy error with a friendly wait time)."""
        lane = self._lanes.setdefault(lane_name, _Lane(self.concurrency))
        if user_id in lane.users:
            raise Busy("You already have one of these on the way; wait for it to finish.")
        if len(lane.users) >= self.concurrency + self.max_waiting:
            wait = lane.typical_seconds() * (len(lane.waiting) + 1) / self.concurrency
            command = lane_name.partition(":")[0]  # a lane's name is COMMAND[:MODEL]
            raise Busy(f"/{command} is busy right now; try again in {wait:.0f} s.")
        lane.users.add(user_id)
        return Ticket(lane, user_id)
