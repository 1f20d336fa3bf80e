"""Continuous batching: many generations with one model advance together, one step call
per token position for all of them.

Requests join and leave between steps. Each keeps its own prompt, length, sampling
settings and random generator, so its output is what it would be alone (the same
arithmetic per row, the same draws). Every active request advances one token per step,
so a long request never holds back a short one. The work runs on one thread per model,
off the event loop; callers wait on a future (or `await` it), never on a thread of
their own.

The loop is supervised: a fault in one request's bookkeeping (its callback, its state,
its inputs) fails that request only; a fault in the step call fails the requests in that
step. Either way the error is logged with its traceback and the batcher serves on.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from bot.engine import LoadedModel
from bot.errors import ModelUnavailable, UserFacingError
from bot.lm import StepGraph
from bot.sampling import SamplingConfig, choose_rows, needs_draw

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

    def next_contexts(self) -> tuple[int, ...]:
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


def on_loop(callback: Callable | None) -> Callable | None:
    """`callback`, to be called from any thread but run on the running event loop."""
    if callback is None:
        return None
    loop = asyncio.get_running_loop()
    return lambda *args: loop.call_soon_threadsafe(callback, *args)


def settle(generation: Generation, error: BaseException | None = None) -> None:
    """Resolve the generation's future once: its tokens, or the error."""
    if generation.future.done():
        return
    if error is None:
        generation.future.set_result(generation.tokens)
    else:
        generation.future.set_exception(error)


def _failure(exc: BaseException, where: str) -> GenerationFailed:
    log.error("generation failed in %s", where, exc_info=exc)
    failed = GenerationFailed("The model failed on this request; the error has been logged.")
    failed.__cause__ = exc
    return failed


class Batcher:
    """Runs every generation submitted for one step model, batched, on a worker thread."""

    def __init__(self, graph: StepGraph, max_batch: int = 64) -> None:
        self.graph = graph
        self.max_batch = max_batch
        self._incoming: queue.Queue[Generation | None] = queue.Queue()
        self._active: list[Generation] = []
        self._state: list[np.ndarray] = graph.zero_state(0)
        self._closing = False
        self._drain_until: float | None = None
        self._submit_lock = threading.Lock()
        self.steps = 0
        self.tokens = 0  # generation steps taken, summed over the batch (for tokens/s)
        self._thread = threading.Thread(
            target=self._run, name=f"batcher-{graph.model.name}", daemon=True
        )
        self._thread.start()

    def submit(self, generation: Generation) -> Generation:
        if not generation.prompt:
            raise ValueError("a generation needs at least one prompt token")
        with self._submit_lock:
            if self._closing:
                raise ModelUnavailable("That model is being replaced or shut down; try again.")
            generation.future.set_running_or_notify_cancel()
            self._incoming.put(generation)
        return generation

    @property
    def active(self) -> int:
        return len(self._active)

    @property
    def waiting(self) -> int:
        return self._incoming.qsize()

    def close(self, grace: float = 10.0) -> None:
        """Stop admitting; let what runs finish within `grace` seconds, then stop it.

        For shutting down, when the process will not wait for long jobs. A replaced
        model's batcher `drain`s instead. A second call can only shorten the time left."""
        self._stop_admitting(time.monotonic() + grace)

    def drain(self) -> None:
        """Stop admitting; let every running or waiting generation end as it would have:
        at its end, or cancelled, or at its own `deadline`. Then the thread ends.

        A replaced model drains, so running requests finish on the model they started
        with (whatever their length), while each request's deadline still bounds it."""
        self._stop_admitting(None)

    def _stop_admitting(self, until: float | None) -> None:
        with self._submit_lock:
            self._closing = True
            if until is not None and (self._drain_until is None or until < self._drain_until):
                self._drain_until = until
            self._incoming.put(None)  # wakes an idle loop

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # The worker thread.

    def _run(self) -> None:
        while True:
            try:
                if not self._cycle():
                    break
            except Exception as exc:  # a bug in the loop itself: fail this batch, serve on
                for generation in self._active:
                    settle(generation, _failure(exc, "the batching loop"))
                self._active, self._state = [], self.graph.zero_state(0)
        self._stop_everything("The model was shut down before this finished; try again.")
        self.graph = None  # release the session with the last reference
        self._state = []

    def _cycle(self) -> bool:
        """One step for every active generation; False when the batcher is done."""
        if not self._admit():
            return False
        self._drop_stopped()
        if not self._active:
            return True
        tokens, contexts = self._inputs()
        if not self._active:
            return True
        try:
            logits, self._state = self.graph(tokens, self._state, contexts)
        except Exception as exc:  # a broken model fails the requests of this step
            for generation in self._active:
                settle(generation, _failure(exc, "the step call"))
            self._compact([False] * len(self._active))
            return True
        self.steps += 1
        self.tokens += len(self._active)
        self._advance(logits)
        return True

    def _admit(self) -> bool:
        """Move waiting generations into the batch; False once closed and drained."""
        block = not self._active
        while len(self._active) < self.max_batch:
            if block and self._closing and self._drained():
                return False
            try:
                generation = self._incoming.get(block=block, timeout=0.5 if block else None)
            except queue.Empty:
                if block:
                    continue  # idle: look again (and notice a close)
                return True
            block = False
            if generation is None:
                continue
            try:
                start = generation.state or self.graph.zero_state(1)
                state = [np.concatenate([s, z]) for s, z in zip(self._state, start, strict=True)]
            except Exception as exc:
                settle(generation, _failure(exc, "admission (initial state)"))
                continue
            self._active.append(generation)
            self._state = state
        return True

    def _drained(self) -> bool:
        return not self._active and self._incoming.empty()

    def _drop_stopped(self) -> None:
        now = time.monotonic()
        if self._drain_until is not None and now >= self._drain_until:
            for generation in self._active:
                generation.cancel("The model was replaced or shut down before this finished.")
        reasons = [generation.due_stop(now) for generation in self._active]
        stopped = [(g, r) for g, r in zip(self._active, reasons, strict=True) if r is not None]
        self._compact([reason is None for reason in reasons])
        for generation, reason in stopped:  # the slot is free before anyone hears of it
            settle(generation, GenerationStopped(reason))

    def _inputs(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """Token and context inputs per row; a generation whose inputs fail is dropped."""
        tokens, contexts, keep = [], [], []
        for generation in self._active:
            try:
                token, context = generation.next_input(), generation.next_contexts()
            except Exception as exc:
                settle(generation, _failure(exc, "its next input"))
                keep.append(False)
                continue
            tokens.append(token)
            contexts.append(context)
            keep.append(True)
        self._compact(keep)
        columns = [np.array(c, np.int32) for c in zip(*contexts, strict=True)]
        return np.array(tokens, np.int32), columns

    def _advance(self, logits: np.ndarray) -> None:
        """Sample for every generation that needs a token, vectorised across rows."""
        keep = [True] * len(self._active)
        sampling_rows = []
        for row, generation in enumerate(self._active):
            try:
                if generation.consume_prompt():
                    sampling_rows.append(row)
            except Exception as exc:
                settle(generation, _failure(exc, "priming"))
                keep[row] = False
        if sampling_rows:
            chosen = self._sample(logits, sampling_rows, keep)
            for row, token in chosen.items():
                generation = self._active[row]
                try:
                    finished = generation.accept(token)
                except Exception as exc:
                    settle(generation, _failure(exc, "taking its token"))
                    keep[row] = False
                    continue
                if finished:
                    settle(generation)
                    keep[row] = False
        self._compact(keep)

    def _sample(self, logits: np.ndarray, rows: list[int], keep: list[bool]) -> dict[int, int]:
        """Tokens for `rows`. Each generation draws its uniform number first, on its own,
        so a failing generator fails only its request; the choice itself is vectorised,
        and if it fails each row is chosen alone with the draw it already made, so the
        bystanders' tokens and random streams are what they would be alone."""
        live, draws = [], []
        for row in rows:
            generation = self._active[row]
            if not keep[row]:
                continue
            try:
                draws.append(generation.rng.random() if needs_draw(generation.sampling) else 0.0)
            except Exception as exc:
                settle(generation, _failure(exc, "sampling"))
                keep[row] = False
                continue
            live.append(row)
        generations = [self._active[r] for r in live]
        try:
            tokens = choose_rows(
                logits[live],
                [g.sampling for g in generations],
                draws,
                [g.banned for g in generations],
            )
            return dict(zip(live, tokens, strict=True))
        except Exception:  # find the row at fault
            chosen = {}
            for row, generation, draw in zip(live, generations, draws, strict=True):
                try:
                    chosen[row] = choose_rows(
                        logits[[row]], [generation.sampling], [draw], [generation.banned]
                    )[0]
                except Exception as exc:
                    settle(generation, _failure(exc, "sampling"))
                    keep[row] = False
            return chosen

    def _compact(self, keep: list[bool]) -> None:
        if all(keep):
            return
        mask = np.array(keep, bool)
        self._active = [g for g, k in zip(self._active, keep, strict=True) if k]
        self._state = [s[mask] for s in self._state]

    def _stop_everything(self, reason: str) -> None:
        for generation in self._active:
            settle(generation, GenerationStopped(reason))
        self._active = []
        while True:
            try:
                generation = self._incoming.get_nowait()
            except queue.Empty:
                return
            if generation is not None:
                settle(generation, GenerationStopped(reason))


class Pool:
    """What the services submit generations to: batchers in this process (`BatcherPool`)
    or the inference tier's replicas (`bot.remote_pool.RemotePool`)."""

    max_batch: int

    def submit(self, graph: StepGraph, generation: Generation) -> Generation:
        raise NotImplementedError

    def retire(self, model: LoadedModel) -> None:
        raise NotImplementedError

    def stats(self) -> dict[str, dict[str, int]]:
        raise NotImplementedError

    def close(self, grace: float = 5.0) -> None:
        raise NotImplementedError

    def submit_all(self, graph: StepGraph, generations: Iterable[Generation]) -> list[Generation]:
        """Submit every generation, or none: if one cannot be submitted, those already
        submitted are cancelled (several samples of one request stand or fall together)."""
        submitted: list[Generation] = []
        try:
            for generation in generations:
                submitted.append(self.submit(graph, generation))
        except BaseException:
            for generation in submitted:
                generation.cancel()
            raise
        return submitted

    def replicas(self) -> list[dict]:
        """Remote replicas and what they serve: none when the models run in this process."""
        return []

    def reload_replicas(self) -> list[dict]:
        """Reload remote replicas: none here (the engine's reload is the whole story)."""
        return []


class BatcherPool(Pool):
    """One batcher per loaded step model, shared by every service that uses the model.

    When the engine replaces or removes a model it calls `retire`: the old batcher stops
    admitting, finishes what it runs (each generation to its end or its own deadline),
    and lets go of the session; new requests go to a batcher for the new model. Only
    `close` (shutdown) cuts running generations short, after its grace.
    """

    def __init__(self, max_batch: int = 64) -> None:
        self.max_batch = max_batch
        self._batchers: dict[str, Batcher] = {}
        self._retired: list[Batcher] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, graph: StepGraph, generation: Generation) -> Generation:
        """Submit to the batcher of `graph`'s model (started on first use)."""
        return self.batcher(graph).submit(generation)

    def batcher(self, graph: StepGraph) -> Batcher:
        model = graph.model
        with self._lock:
            if self._closed:
                raise ModelUnavailable("The bot is shutting down.")
            if model.retired:
                raise ModelUnavailable(f"The {model.name} model was just replaced; try again.")
            current = self._batchers.get(model.name)
            if current is None or current.graph is None or current.graph.model is not model:
                if current is not None:
                    self._retire(current)
                current = Batcher(graph, self.max_batch)
                self._batchers[model.name] = current
            return current

    def retire(self, model: LoadedModel) -> None:
        """Drain and stop the batcher serving `model` (called by the engine on a swap)."""
        with self._lock:
            current = self._batchers.get(model.name)
            if current is not None and current.graph is not None and current.graph.model is model:
                del self._batchers[model.name]
                self._retire(current)

    def _retire(self, batcher: Batcher) -> None:
        """Drain, not a fixed grace: see `Batcher.drain`. `close` still bounds it."""
        batcher.drain()
        self._retired = [b for b in self._retired if b._thread.is_alive()] + [batcher]

    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                name: {
                    "active": b.active,
                    "waiting": b.waiting,
                    "steps": b.steps,
                    "tokens": b.tokens,
                }
                for name, b in self._batchers.items()
            }

    def close(self, grace: float = 5.0) -> None:
        """Stop admitting, give running generations `grace` seconds, then stop them all."""
        with self._lock:
            self._closed = True
            batchers = list(self._batchers.values()) + self._retired
            self._batchers, self._retired = {}, []
        for batcher in batchers:
            batcher.close(grace)
        for batcher in batchers:
            batcher.join(grace + 2.0)
