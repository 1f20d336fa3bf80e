"""A generation: one request's tokens, advanced by a batcher one step at a time, and how
its caller waits for them (blocking for scripts, awaited on the event loop).

Each keeps its own prompt, length, sampling settings and random generator, so its output
is what it would be alone, whatever it shares steps with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from bot.errors import UserFacingError
from bot.runtime.sampling import SamplingConfig

log = logging.getLogger(__name__)
Result = TypeVar("Result")


class GenerationStopped(UserFacingError):
    """The generation ended before its end: cancelled, past its deadline, or shut down."""


class GenerationFailed(UserFacingError):
    """The model failed on this request; the cause is logged, the user gets this text."""


@dataclass
class Generation:
    prompt: list[int]
    max_new: int
    sampling: SamplingConfig
    rng: np.random.Generator
    end_token: int | None = None
    banned: Sequence[int] = ()
    on_token: Callable[[list[int]], None] | None = None
    state: list[np.ndarray] | None = None  # initial (1, units) rows; None means zeros
    deadline: float | None = None  # time.monotonic() after which it is stopped
    tokens: list[int] = field(default_factory=list)
    future: Future = field(default_factory=Future)
    stop_reason: str | None = None
    fed: int = 0  # prompt tokens already run through the model

    def cancel(self, reason: str = "The request was cancelled.") -> None:
        """Stop at the next step and free the slot (the user left, pressed Ctrl-C, ...)."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def due_stop(self, now: float) -> str | None:
        if self.stop_reason is not None:
            return self.stop_reason
        if self.deadline is not None and now >= self.deadline:
            return "It took too long and was stopped; try a shorter request or try again later."
        return None

    def next_input(self) -> int:
        return self.prompt[self.fed] if self.fed < len(self.prompt) else self.tokens[-1]

    def next_contexts(self) -> Sequence[int]:
        """Per-step context inputs, for models that have them (see PixelGeneration)."""
        return ()

    def consume_prompt(self) -> bool:
        """Account for one step; True when this step's logits are to be sampled from."""
        if self.fed < len(self.prompt):
            self.fed += 1
            return self.fed == len(self.prompt)
        return True

    def accept(self, token: int) -> bool:
        """Take the sampled token; True when the generation is finished."""
        if token == self.end_token:
            return True
        self.tokens.append(token)
        if self.on_token:
            self.on_token(self.tokens)
        return len(self.tokens) >= self.max_new

    def result(self, timeout: float | None = None) -> list[int]:
        """Block until done (for scripts). Ctrl-C cancels the generation and re-raises."""
        try:
            return self.future.result(timeout)
        except KeyboardInterrupt:
            self.cancel("Cancelled with Ctrl-C.")
            raise

    async def wait(self) -> list[int]:
        """Await the tokens; if the awaiting task is cancelled, so is the generation."""
        try:
            return await asyncio.wrap_future(self.future)
        except asyncio.CancelledError:
            self.cancel("The request was withdrawn.")
            raise


@dataclass
class Job(Generic[Result]):
    """A submitted generation and how its tokens become a service's result, waited for
    either way: blocking (scripts, console) or awaited (Discord)."""

    generation: Generation
    finish: Callable[[list[int]], Result]

    def result(self) -> Result:
        return self.finish(self.generation.result())

    async def wait(self) -> Result:
        return self.finish(await self.generation.wait())


def results(generations: list[Generation]) -> list[list[int]]:
    """Every generation's tokens, waiting; on the way out (Ctrl-C, a failure) the rest are
    cancelled."""
    try:
        return [g.result() for g in generations]
    finally:
        for generation in generations:
            generation.cancel()  # no-op for finished ones


async def wait_all(generations: list[Generation]) -> list[list[int]]:
    """`results`, awaited without a thread."""
    try:
        return list(await asyncio.gather(*(g.wait() for g in generations)))
    finally:
        for generation in generations:
            generation.cancel()


async def watch(
    generation: Generation, report: Callable[[list[int]], None], every: float
) -> list[int]:
    """Await the tokens, calling `report(tokens so far)` on the event loop every `every`
    seconds while new ones have come. Progress is read here rather than pushed from the
    batcher: the batcher's thread does nothing per token for it (no decoding, no wake-up
    of the loop), and a report costs one look per interval, however many tokens came."""
    future = asyncio.wrap_future(generation.future)
    seen = 0
    try:
        while True:
            done, _ = await asyncio.wait({future}, timeout=every)
            if done:
                return future.result()
            tokens = list(generation.tokens)  # a copy: the batcher appends as we read
            if len(tokens) != seen:
                seen = len(tokens)
                report(tokens)
    except asyncio.CancelledError:
        generation.cancel("The request was withdrawn.")
        raise


def settle(generation: Generation, error: BaseException | None = None) -> None:
    """Resolve the generation's future once: its tokens, or the error."""
    if generation.future.done():
        return
    if error is None:
        generation.future.set_result(generation.tokens)
    else:
        generation.future.set_exception(error)


def failure(exc: BaseException, where: str) -> GenerationFailed:
    """The error a request gets when its model or bookkeeping failed; the cause is logged."""
    log.error("generation failed in %s", where, exc_info=exc)
    failed = GenerationFailed("The model failed on this request; the error has been logged.")
    failed.__cause__ = exc
    return failed
