"""Continuous batching: same output as alone, independent finishing, cancellation."""

import asyncio
import contextlib
import threading
import time

import numpy as np
import pytest

from bot.errors import ModelUnavailable
from bot.runtime.batching import Batcher, Generation, GenerationStopped, settle, watch
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph, generate
from bot.runtime.sampling import SamplingConfig, sample, sample_rows


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
    first.cancel("Cancelled with Ctrl-C.")
    with pytest.raises(GenerationStopped, match="Ctrl-C"):
        first.future.result(timeout=30)
    assert len(first.tokens) < 100_000
    assert len(waiting.future.result(timeout=30)) == 5
    assert batcher.active == 0


def test_deadline_stops_a_generation_and_says_why(graph):
    batcher = Batcher(graph)
    late = batcher.submit(
        Generation(
            [1], 100_000, SamplingConfig(1.0), np.random.default_rng(1), deadline=time.monotonic()
        )
    )
    with pytest.raises(GenerationStopped, match="took too long"):
        late.future.result(timeout=30)
    fine = batcher.submit(Generation([1], 5, SamplingConfig(1.0), np.random.default_rng(1)))
    assert len(fine.future.result(timeout=30)) == 5


def test_awaiting_task_cancelled_cancels_the_generation(graph):
    batcher = Batcher(graph)

    async def scenario():
        generation = batcher.submit(
            Generation([1], 1_000_000, SamplingConfig(1.0), np.random.default_rng(1))
        )
        task = asyncio.create_task(generation.wait())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(GenerationStopped):
            await asyncio.wrap_future(generation.future)
        return generation

    generation = asyncio.run(scenario())
    assert len(generation.tokens) < 1_000_000


def test_close_finishes_what_runs_then_stops_the_thread(graph):
    batcher = Batcher(graph)
    short = batcher.submit(Generation([1], 20, SamplingConfig(1.0), np.random.default_rng(1)))
    endless = batcher.submit(
        Generation([1], 10_000_000, SamplingConfig(1.0), np.random.default_rng(2))
    )
    batcher.close(grace=0.5)
    with pytest.raises(ModelUnavailable):
        batcher.submit(Generation([1], 5, SamplingConfig(1.0), np.random.default_rng(3)))
    assert batcher.join(10)
    assert len(short.future.result(timeout=1)) == 20
    with pytest.raises(GenerationStopped, match="replaced or shut down"):
        endless.future.result(timeout=1)


@pytest.mark.parametrize("seed", range(20))
def test_vectorised_sampling_matches_row_by_row(seed):
    rng = np.random.default_rng(seed)
    rows = 9
    logits = (rng.normal(size=(rows, 70)) * rng.uniform(0.1, 8)).astype(np.float32)
    configs = [
        SamplingConfig(t, k, p)
        for t, k, p in [
            (0.8, 0, 1.0),
            (1.3, 0, 1.0),
            (0.0, 0, 1.0),
            (0.05, 0, 1.0),
            (1.0, 5, 1.0),
            (1.0, 0, 0.9),
            (2.0, 0, 1.0),
            (0.5, 0, 1.0),
            (1.0, 0, 1.0),
        ]
    ]
    banned = [[0], [], [], [3, 4], [], [], [], [69], []]
    one = [np.random.default_rng([seed, r]) for r in range(rows)]
    together = [np.random.default_rng([seed, r]) for r in range(rows)]
    expected = []
    for r in range(rows):
        row = logits[r].copy()
        row[banned[r]] = -np.inf
        expected.append(sample(row, configs[r], one[r]))
    for _ in range(3):  # and the generators stay in step afterwards
        assert sample_rows(logits, configs, together, banned) == expected
        expected = []
        for r in range(rows):
            row = logits[r].copy()
            row[banned[r]] = -np.inf
            expected.append(sample(row, configs[r], one[r]))


def test_samples_of_one_request_stand_or_fall_together(graph):
    from bot.runtime.batching import BatcherPool, results

    pool = BatcherPool()
    try:
        long = Generation([1], 100_000, SamplingConfig(1.0), np.random.default_rng(1))
        broken = Generation([], 5, SamplingConfig(1.0), np.random.default_rng(2))  # no prompt
        with pytest.raises(ValueError, match="prompt"):
            pool.submit_all(graph, [long, broken])
        with pytest.raises(GenerationStopped):
            long.result(timeout=30)  # cancelled, not left running
        pair = [Generation([1], 5, SamplingConfig(1.0), np.random.default_rng(s)) for s in (3, 4)]
        assert [len(t) for t in results(pool.submit_all(graph, pair))] == [5, 5]
    finally:
        pool.close()


def short_fixed_grace(monkeypatch, seconds: float = 0.2) -> None:
    """Any fixed grace is too short for some job; shrink it so the test runs in seconds.
    A retire that drains never uses it; pool shutdown passes its own grace."""
    real = Batcher.close

    def close(self, grace=seconds):
        return real(self, min(grace, seconds))

    monkeypatch.setattr(Batcher, "close", close)


def test_a_retired_model_finishes_running_jobs_and_still_honours_deadlines(
    graph, slow_steps, monkeypatch
):
    """A swap lets each running generation end on the old model, whole (the same tokens as
    alone), or at its own deadline: no fixed grace cuts it off."""
    from bot.runtime.batching import BatcherPool

    short_fixed_grace(monkeypatch)
    pool = BatcherPool()
    try:
        whole = pool.submit(
            graph, Generation([1], 150, SamplingConfig(1.0), np.random.default_rng(5))
        )
        due = time.monotonic() + 0.6
        endless = Generation(
            [2], 100_000, SamplingConfig(1.0), np.random.default_rng(6), deadline=due
        )
        pool.submit(graph, endless)
        batcher = pool.batcher(graph)
        while len(whole.tokens) < 5:
            time.sleep(0.01)
        pool.retire(graph.model)
        with pytest.raises(ModelUnavailable):
            batcher.submit(Generation([1], 5, SamplingConfig(1.0), np.random.default_rng(7)))
        with pytest.raises(GenerationStopped, match="took too long"):
            endless.result(timeout=30)
        assert time.monotonic() >= due
        assert whole.result(timeout=30) == alone(graph, [1], 150, 1.0, 5)
        assert batcher.join(10)  # drained: the thread ends and lets go of the session
        assert batcher.graph is None
    finally:
        pool.close(grace=0.5)


def test_pool_shutdown_still_bounds_a_draining_batcher(graph, slow_steps):
    """Shutdown keeps its grace, for retired batchers too: a job without a deadline on a
    retired model is stopped once the pool closes."""
    from bot.runtime.batching import BatcherPool

    pool = BatcherPool()
    endless = pool.submit(
        graph, Generation([1], 10_000_000, SamplingConfig(1.0), np.random.default_rng(1))
    )
    batcher = pool.batcher(graph)
    pool.retire(graph.model)
    time.sleep(0.3)
    assert not endless.future.done()  # draining, not cut
    started = time.monotonic()
    pool.close(grace=0.3)
    assert time.monotonic() - started < 3
    with pytest.raises(GenerationStopped, match="shut down"):
        endless.result(timeout=1)
    assert batcher.join(1)


def test_watch_reports_new_tokens_on_the_loop_and_returns_them():
    """Progress is read on the event loop: each report is the tokens so far, none repeated
    while nothing new came, and the generation's tokens are what it returns."""
    generation = Generation([1], 10, SamplingConfig(), np.random.default_rng(0))
    generation.future.set_running_or_notify_cancel()
    seen: list[list[int]] = []

    async def main() -> list[int]:
        watcher = asyncio.ensure_future(watch(generation, seen.append, 0.01))
        for token in (5, 6):
            generation.tokens.append(token)
            await asyncio.sleep(0.05)  # several intervals: one report, then none
        settle(generation)
        return await watcher

    assert asyncio.run(main()) == [5, 6]
    assert seen == [[5], [5, 6]]


def test_a_cancelled_watch_cancels_its_generation():
    generation = Generation([1], 10, SamplingConfig(), np.random.default_rng(0))
    generation.future.set_running_or_notify_cancel()

    async def main() -> None:
        watcher = asyncio.ensure_future(watch(generation, lambda tokens: None, 0.01))
        await asyncio.sleep(0.02)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    asyncio.run(main())
    assert generation.stop_reason is not None
