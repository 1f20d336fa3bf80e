"""Continuous batching: many generations with one model advance together, one step call
per token position for all of them.

Requests join and leave between steps, and every active request advances one token per
step, so a long request never holds back a short one. Each keeps its own settings and
random generator (`bot.runtime.generation`), so its output is what it would be alone: the same
arithmetic per row, the same draws. The work runs on one thread per model, off the event
loop; callers wait on a future (or `await` it), never on a thread of their own.

The loop is supervised: a fault in one request's bookkeeping (its callback, its state,
its inputs) fails that request only; a fault in the step call fails the requests in that
step. Either way the error is logged with its traceback and the batcher serves on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable

import numpy as np

from bot.errors import ModelUnavailable
from bot.runtime.engine import LoadedModel
from bot.runtime.generation import (
    Generation,
    GenerationFailed,
    GenerationStopped,
    Job,
    failure,
    results,
    settle,
    wait_all,
    watch,
)
from bot.runtime.lm import StepGraph
from bot.runtime.sampling import RowChooser, choose_rows, needs_draw

# What callers import from here: a generation and its waiting come with the batcher.
__all__ = [
    "Batcher",
    "BatcherPool",
    "Generation",
    "GenerationFailed",
    "GenerationStopped",
    "Job",
    "Pool",
    "results",
    "settle",
    "wait_all",
    "watch",
]
log = logging.getLogger(__name__)


class Batcher:
    """Runs every generation submitted for one step model, batched, on a worker thread."""

    def __init__(self, graph: StepGraph, max_batch: int = 64) -> None:
        self.graph = graph
        self.max_batch = max_batch
        self._incoming: queue.Queue[Generation | None] = queue.Queue()
        self._active: list[Generation] = []
        self._state: list[np.ndarray] = graph.zero_state(0)
        self._chooser: RowChooser | None = None  # the batch's sampling, until it changes
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
                    settle(generation, failure(exc, "the batching loop"))
                self._active, self._state = [], self.graph.zero_state(0)
                self._chooser = None
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
                settle(generation, failure(exc, "the step call"))
            self._compact([False] * len(self._active))
            return True
        self.steps += 1
        self.tokens += len(self._active)
        self._advance(logits)
        return True

    def _admit(self) -> bool:
        """Move waiting generations into the batch; False once closed and drained."""
        block = not self._active
        if not block and self._incoming.empty():
            return True  # the common step: nobody new
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
                settle(generation, failure(exc, "admission (initial state)"))
                continue
            self._active.append(generation)
            self._state = state
            self._chooser = None
        return True

    def _drained(self) -> bool:
        return not self._active and self._incoming.empty()

    def _drop_stopped(self) -> None:
        now = time.monotonic()
        if self._drain_until is not None and now >= self._drain_until:
            for generation in self._active:
                generation.cancel("The model was replaced or shut down before this finished.")
        reasons = [generation.due_stop(now) for generation in self._active]
        if reasons.count(None) == len(reasons):
            return
        stopped = [(g, r) for g, r in zip(self._active, reasons, strict=True) if r is not None]
        self._compact([reason is None for reason in reasons])
        for generation, reason in stopped:  # the slot is free before anyone hears of it
            settle(generation, GenerationStopped(reason))

    def _inputs(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """Token and context inputs per row; a generation whose inputs fail is dropped."""
        active = self._active
        try:
            tokens = [generation.next_input() for generation in active]
            contexts = [g.next_contexts() for g in active] if self.graph.contexts else []
        except Exception:  # find the generation at fault; the others go ahead
            tokens, contexts, keep = [], [], []
            for generation in active:
                try:
                    token, context = generation.next_input(), generation.next_contexts()
                except Exception as exc:
                    settle(generation, failure(exc, "its next input"))
                    keep.append(False)
                    continue
                tokens.append(token)
                contexts.append(context)
                keep.append(True)
            self._compact(keep)
            if not self.graph.contexts:
                contexts = []
        # (kinds, rows): each kind's column one contiguous array, as the session takes it
        if len(contexts) == 1:
            columns = list(np.asarray(contexts[0], np.int32).reshape(-1, 1))
        else:
            columns = list(np.array(contexts, np.int32).T.copy()) if contexts else []
        return np.array(tokens, np.int32), columns

    def _advance(self, logits: np.ndarray) -> None:
        """Sample for every generation that needs a token, vectorised across rows."""
        active = self._active
        keep = [True] * len(active)
        sampling_rows = []
        for row, generation in enumerate(active):
            try:
                if generation.consume_prompt():
                    sampling_rows.append(row)
            except Exception as exc:
                settle(generation, failure(exc, "priming"))
                keep[row] = False
        if sampling_rows:
            rows, tokens = self._sample(logits, sampling_rows, keep)
            for row, token in zip(rows, tokens, strict=True):
                generation = active[row]
                try:
                    finished = generation.accept(token)
                except Exception as exc:
                    settle(generation, failure(exc, "taking its token"))
                    keep[row] = False
                    continue
                if finished:
                    settle(generation)
                    keep[row] = False
        self._compact(keep)

    def _sample(
        self, logits: np.ndarray, rows: list[int], keep: list[bool]
    ) -> tuple[list[int], list[int]]:
        """Tokens for `rows`, and the rows they are for. Each generation draws its uniform
        number first, on its own, so a failing generator fails only its request; the
        choice itself is vectorised, and if it fails each row is chosen alone with the
        draw it already made, so the bystanders' tokens and random streams are what they
        would be alone."""
        active = self._active
        live, draws = [], []
        for row in rows:
            generation = active[row]
            if not keep[row]:
                continue
            try:
                draws.append(generation.rng.random() if needs_draw(generation.sampling) else 0.0)
            except Exception as exc:
                settle(generation, failure(exc, "sampling"))
                keep[row] = False
                continue
            live.append(row)
        generations = [active[r] for r in live]
        try:
            if len(live) < len(active):  # some rows are priming or failed: these rows only
                chooser = RowChooser(
                    [g.sampling for g in generations], [g.banned for g in generations]
                )
                return live, chooser(logits[live], draws)
            if self._chooser is None:  # the batch's own, kept until the batch changes
                self._chooser = RowChooser([g.sampling for g in active], [g.banned for g in active])
            return live, self._chooser(logits, draws)
        except Exception:  # find the row at fault
            chosen_rows, chosen = [], []
            for row, generation, draw in zip(live, generations, draws, strict=True):
                try:
                    token = choose_rows(
                        logits[[row]], [generation.sampling], [draw], [generation.banned]
                    )[0]
                except Exception as exc:
                    settle(generation, failure(exc, "sampling"))
                    keep[row] = False
                    continue
                chosen_rows.append(row)
                chosen.append(token)
            return chosen_rows, chosen

    def _compact(self, keep: list[bool]) -> None:
        if all(keep):
            return
        mask = np.array(keep, bool)
        self._chooser = None
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
    or the inference tier's replicas (`bot.runtime.remote_pool.RemotePool`)."""

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
