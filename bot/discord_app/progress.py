"""A job's life on Discord: admitted, deferred, waiting in line with its place shown, then
run against a deadline with its progress shown now and then.

Interaction tokens live 15 minutes, so every job's deadline falls inside that (minus a
margin); when it passes, or the interaction is gone, the generation is cancelled at its
next step and its slot freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import discord

from bot.discord_app.admission import Admission
from bot.discord_app.replies import NO_MENTIONS, InteractionGone
from bot.runtime.batching import GenerationStopped

log = logging.getLogger(__name__)

Result = TypeVar("Result")
TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction token can edit and follow up
TOKEN_MARGIN = 60.0  # left for the final answer (or the error) to reach the user


def job_deadline(interaction: discord.Interaction, job_seconds: float) -> float:
    """A `time.monotonic()` deadline: `job_seconds` from now, and inside the token's life."""
    age = (datetime.now(UTC) - interaction.created_at).total_seconds()
    remaining = TOKEN_LIFETIME - TOKEN_MARGIN - max(0.0, age)
    return time.monotonic() + max(0.0, min(job_seconds, remaining))


def place_text(place: int) -> str:
    return f"⏳ You are number {place} in line; yours starts as soon as a slot is free."


@contextlib.asynccontextmanager
async def admitted(
    admission: Admission, lane: str, interaction: discord.Interaction
) -> AsyncIterator[float]:
    """Admit (or refuse at once), defer, wait in line showing the place; yields the deadline."""
    deadline = job_deadline(interaction, admission.job_seconds)
    async with admission.enter(lane, interaction.user.id) as ticket:
        await interaction.response.defer(thinking=True)

        async def show_place(place: int) -> None:
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(
                    content=place_text(place), allowed_mentions=NO_MENTIONS
                )

        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await ticket.wait_turn(show_place)
        except TimeoutError:
            raise GenerationStopped(
                "The line was too long to get to your request in time; please try again later."
            ) from None
        yield deadline


async def run_with_progress(
    start: Callable[[Callable[[Any], None]], Awaitable[Result]],
    show: Callable[[Any], Awaitable[None]],
    interval: float,
) -> Result:
    """`start(report)` runs the job, calling `report(snapshot)` on the event loop as it
    goes; `show` gets the newest snapshot at most once per `interval` seconds. If the
    interaction is gone (Discord answers 404 to an edit), the job is cancelled."""
    latest: list[Any] = []  # the newest snapshot only: older ones are never shown

    def report(snapshot: Any) -> None:
        latest[:] = [snapshot]

    job = asyncio.ensure_future(start(report))
    shown = None
    try:
        while True:
            done, _ = await asyncio.wait({job}, timeout=interval)
            if done:
                return job.result()
            if latest and latest[-1] is not shown:
                shown = latest[-1]
                try:
                    await show(shown)
                except discord.NotFound:
                    raise InteractionGone from None  # the job is cancelled on the way out
    finally:
        if not job.done():
            job.cancel()  # the generation stops at its next step
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job
