"""Run blocking work off the event loop while showing its progress now and then."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

Result = TypeVar("Result")


async def run_with_progress(
    work: Callable[[Callable[[Any], None]], Result],
    show: Callable[[Any], Awaitable[None]],
    interval: float,
) -> Result:
    """`work(report)` runs in a thread and calls `report(snapshot)` as it goes; `show` gets
    the newest snapshot at most once per `interval` seconds, on the event loop."""
    latest: list[Any] = []  # list.append is atomic: the thread appends, the loop reads
    job = asyncio.ensure_future(asyncio.to_thread(work, latest.append))
    shown = None
    while True:
        done, _ = await asyncio.wait({job}, timeout=interval)
        if done:
            return job.result()
        if latest and latest[-1] is not shown:
            shown = latest[-1]
            await show(shown)
