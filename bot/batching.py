"""Continuous batching: many generations with one model advance together, one step call
per token position for all of them.

Requests join and leave between steps. Each keeps its own prompt, length, sampling
settings and random generator, so its output is what it would be alone (the same
arithmetic per row, the same draws). Every active request advances one token per step,
so a long request never holds back a short one. The work runs on one thread per model,
off the event loop.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from bot.lm import StepGraph
from bot.sampling import SamplingConfig, sample


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
    tokens: list[int] = field(default_factory=list)
    future: Future = field(default_factory=Future)
    cancelled: threading.Event = field(default_factory=threading.Event)
    fed: int = 0  # prompt tokens already run through the model

    def cancel(self) -> None:
        """Stop at the next step and free the slot (e.g. the user's interaction expired)."""
        self.cancelled.set()

    def next_input(self) -> int:
        return self.prompt[self.fed] if self.fed < len(self.prompt) else self.tokens[-1]

    def next_contexts(self) -> tuple[int, ...]:
        """Per-step context inputs, for models that have them (see PixelGeneration)."""
        return ()

    def take(self, logits: np.ndarray) -> bool:
        """Consume this step's logits; True when the generation is finished."""
        if self.fed < len(self.prompt):
            self.fed += 1
            if self.fed < len(self.prompt):
                return False  # still priming with the prompt
        if len(self.banned):
            logits = logits.copy()
            logits[list(self.banned)] = -np.inf
        token = sample(logits, self.sampling, self.rng)
        if token == self.end_token:
            return True
        self.tokens.append(token)
        if self.on_token:
            self.on_token(self.tokens)
        return len(self.tokens) >= self.max_new


class Batcher:
    """Runs every generation submitted for one step model, batched, on a worker thread."""

    def __init__(self, graph: StepGraph, max_batch: int = 64) -> None:
        self.graph = graph
        self.max_batch = max_batch
        self._incoming: queue.Queue[Generation] = queue.Queue()
        self._active: list[Generation] = []
        self._state: list[np.ndarray] = graph.zero_state(0)
        self.steps = 0
        self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)
        self._thread.start()

    def submit(self, generation: Generation) -> Generation:
        if not generation.prompt:
            raise ValueError("a generation needs at least one prompt token")
        generation.future.set_running_or_notify_cancel()
        self._incoming.put(generation)
        return generation

    @property
    def active(self) -> int:
        return len(self._active)

    def _admit(self) -> None:
        block = not self._active
        while len(self._active) < self.max_batch:
            try:
                generation = self._incoming.get(block=block)
            except queue.Empty:
                return
            block = False
            self._active.append(generation)
            start = generation.state or self.graph.zero_state(1)
            self._state = [np.concatenate([s, z]) for s, z in zip(self._state, start, strict=True)]

    def _run(self) -> None:
        while True:
            self._admit()
            keep = [not g.cancelled.is_set() for g in self._active]
            for generation, kept in zip(self._active, keep, strict=True):
                if not kept:
                    generation.future.set_result(generation.tokens)
            self._compact(keep)
            if not self._active:
                continue
            tokens = np.array([g.next_input() for g in self._active], np.int32)
            contexts = [
                np.array(c, np.int32)
                for c in zip(*(g.next_contexts() for g in self._active), strict=True)
            ]
            try:
                logits, self._state = self.graph(tokens, self._state, contexts)
            except Exception as exc:  # a broken model fails its requests, not the thread
                for generation in self._active:
                    generation.future.set_exception(exc)
                self._compact([False] * len(self._active))
                continue
            self.steps += 1
            keep = []
            for row, generation in enumerate(self._active):
                finished = generation.take(logits[row])
                if finished:
                    generation.future.set_result(generation.tokens)
                keep.append(not finished)
            self._compact(keep)

    def _compact(self, keep: list[bool]) -> None:
        if all(keep):
            return
        mask = np.array(keep, bool)
        self._active = [g for g, k in zip(self._active, keep, strict=True) if k]
        self._state = [s[mask] for s in self._state]
