"""Where a batcher step's time goes: the step call (the model) against everything else
(admission, inputs, sampling, bookkeeping, callbacks), measured on the batcher's own
thread while real requests run through a service."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager

from bot.runtime.batching import Batcher
from bot.runtime.lm import StepGraph


@contextmanager
def timing_steps():
    """Seconds of every batcher cycle that called the model, and of its step calls."""
    cycles: list[float] = []
    calls: list[float] = []
    real_cycle, real_call = Batcher._cycle, StepGraph.__call__

    def cycle(self):
        before = len(calls)
        started = time.perf_counter()
        result = real_cycle(self)
        if len(calls) > before:  # an idle wait for work is not a step
            cycles.append(time.perf_counter() - started)
        return result

    def call(self, *args, **kwargs):
        started = time.perf_counter()
        result = real_call(self, *args, **kwargs)
        calls.append(time.perf_counter() - started)
        return result

    Batcher._cycle, StepGraph.__call__ = cycle, call
    try:
        yield cycles, calls
    finally:
        Batcher._cycle, StepGraph.__call__ = real_cycle, real_call


def non_model_share(run: Callable[[], None]) -> tuple[float, int]:
    """The share of step time outside the model while `run()` runs, and the steps taken."""
    with timing_steps() as (cycles, calls):
        run()
    total = sum(cycles)
    return (1 - sum(calls) / total if total else 0.0), len(cycles)
