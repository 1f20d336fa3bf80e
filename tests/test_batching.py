"""Continuous batching: same output as alone, independent finishing, cancellation."""

import threading
import time

import numpy as np
import pytest

from bot.batching import Batcher, Generation
from bot.engine import InferenceEngine
from bot.lm import StepGraph, generate
from bot.sampling import SamplingConfig


@pytest.fixture()
def graph(model_dir):
    engine = InferenceEngine(model_dir, prefer_gpu=False)
    engine.load_all()
    return StepGraph(engine.models["tiny"])


def alone(graph, prompt, length, temperature, seed):
    return list(
        generate(
            graph,
            graph.zero_state(),
            prompt,
            length,
            SamplingConfig(temperature),
            np.random.default_rng(seed),
        )
    )


def test_batched_equals_unbatched(graph):
    batcher = Batcher(graph)
    jobs = [
        ([1, 2, 3], 80, 0.8, 1),
        ([4], 50, 1.2, 2),
        ([5, 6], 120, 0.0, 3),
        ([7] * 9, 30, 0.5, 4),
    ]
    generations = [
        batcher.submit(Generation(p, n, SamplingConfig(t), np.random.default_rng(s)))
        for p, n, t, s in jobs
    ]
    results = [g.future.result(timeout=60) for g in generations]
    assert results == [alone(graph, *job) for job in jobs]
    # Fewer step calls than running one after another: they really shared calls.
    assert batcher.steps < sum(len(p) + n for p, n, _, _ in jobs)


def test_requests_finish_independently_and_can_join_late(graph):
    batcher = Batcher(graph)
    done_at = {}

    def track(name):
        return lambda tokens: done_at.__setitem__(name, time.perf_counter())

    long = batcher.submit(
        Generation([1], 400, SamplingConfig(1.0), np.random.default_rng(1), on_token=track("long"))
    )
    short = batcher.submit(
        Generation([2], 10, SamplingConfig(1.0), np.random.default_rng(2), on_token=track("short"))
    )
    assert len(short.future.result(timeout=60)) == 10
    assert not long.future.done()  # the short one did not wait for the long one
    late = batcher.submit(Generation([3], 5, SamplingConfig(1.0), np.random.default_rng(3)))
    assert len(late.future.result(timeout=60)) == 5
    assert len(long.future.result(timeout=60)) == 400
    assert late.future.result() == alone(graph, [3], 5, 1.0, 3)


def test_cancelling_frees_the_slot(graph):
    batcher = Batcher(graph, max_batch=1)
    started = threading.Event()
    first = batcher.submit(
        Generation(
            [1],
            100_000,
            SamplingConfig(1.0),
            np.random.default_rng(1),
            on_token=lambda tokens: started.set(),
        )
    )
    waiting = batcher.submit(Generation([2], 5, SamplingConfig(1.0), np.random.default_rng(2)))
    assert started.wait(30)
    time.sleep(0.05)
    assert not waiting.future.done()  # the only slot is taken
    first.cancel()
    assert len(first.future.result(timeout=30)) < 100_000
    assert len(waiting.future.result(timeout=30)) == 5
    assert batcher.active == 0
