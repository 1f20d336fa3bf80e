"""Serving benchmark: latency per command, batched vs one-after-another /write, event-loop
lag, the tutorials' method vs the step graph, and FLOP/s against a numpy matmul peak.

Everything is measured in this one run, on this machine, with exported_models/.
Usage: python bench/serving.py [--quick]   (the tutorial row needs the `train` extra)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bot.caption.service import CaptionRequest  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.engine import InferenceEngine  # noqa: E402
from bot.lm import StepGraph  # noqa: E402
from bot.paint.service import PaintRequest  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.write.service import WriteRequest  # noqa: E402

MODELS = ROOT / "exported_models"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def command_latencies(services: Services, quick: bool) -> list[tuple[str, float, float]]:
    n = 3 if quick else 1
    cases = [
        ("/color (model)", lambda: services.color.color("mossy dragon", model_only=True), 100 // n),
        (
            "/write 500 chars",
            lambda: services.write.write(WriteRequest("shakespeare", "", 500, 0.8, 1)),
            10 // n,
        ),
        ("/caption (1 caption)", lambda: services.caption.caption(CaptionRequest(seed=1)), 20 // n),
        ("/paint 64x64", lambda: services.paint.paint(PaintRequest(seed=1)), max(2, 6 // n)),
    ]
    rows = []
    for name, fn, repeats in cases:
        fn()  # warm-up
        p50, p95 = percentiles(timed(fn, repeats))
        rows.append((name, p50, p95))
    return rows


def concurrent_writes(services: Services, count: int) -> tuple[float, float]:
    """Wall time of `count` /write requests submitted together vs one after another."""
    requests = [WriteRequest("shakespeare", "", 500, 0.8, seed) for seed in range(count)]
    started = time.perf_counter()
    for request in requests:
        services.write.write(request)
    sequential = time.perf_counter() - started

    async def together() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(asyncio.to_thread(services.write.write, r) for r in requests))
        return time.perf_counter() - began

    return asyncio.run(together()), sequential


def loop_lag_during(services: Services, count: int) -> tuple[float, float]:
    """Worst and p99 lag of a 10 ms ticker while `count` /write requests run."""

    async def measure() -> list[float]:
        lags: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append(time.perf_counter() - before - 0.01)

        task = asyncio.create_task(ticker())
        requests = [WriteRequest("shakespeare", "", 500, 0.8, seed) for seed in range(count)]
        await asyncio.gather(*(asyncio.to_thread(services.write.write, r) for r in requests))
        done.set()
        await task
        return lags

    lags = sorted(asyncio.run(measure()))
    return lags[-1], lags[int(0.99 * (len(lags) - 1))]


def step_flops(graph: StepGraph) -> float:
    cfg = graph.model.metadata.extra["config"]
    units, vocab = cfg["units"], cfg["vocab_size"]
    inputs = [cfg["embedding"]] + [units] * (cfg["layers"] - 1)
    return sum(2 * 4 * units * (i + units) for i in inputs) + 2 * units * vocab


def achieved_flops(graph: StepGraph, batch: int, calls: int) -> tuple[float, float]:
    tokens = np.zeros(batch, np.int32)
    state = graph.zero_state(batch)
    graph(tokens, state)
    started = time.perf_counter()
    for _ in range(calls):
        _, state = graph(tokens, state)
    per_call = (time.perf_counter() - started) / calls
    return per_call, step_flops(graph) * batch / per_call


def numpy_peak(n: int = 1024, repeats: int = 10) -> float:
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = np.random.default_rng(1).random((n, n), dtype=np.float32)
    a @ b
    best = min(timed(lambda: a @ b, repeats))
    return 2 * n**3 / best


def thread_settings() -> list[str]:
    rows = []
    for threads in (1, 2, 0):
        engine = InferenceEngine(MODELS, prefer_gpu=False, threads=threads)
        graph = StepGraph(engine.load_file(MODELS / "shakespeare.onnx"))
        one, _ = achieved_flops(graph, 1, 500)
        many, _ = achieved_flops(graph, 32, 200)
        label = threads or f"default ({os.cpu_count()})"
        rows.append(f"| intra-op threads {label} | {one * 1e6:.0f} µs | {many * 1e6:.0f} µs |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--skip-tutorial", action="store_true")
    args = parser.parse_args()
    services = Services.start(Settings(model_dir=MODELS, prefer_gpu=False))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"providers {services.engine.providers.providers}"
    )
    print("\n| command (through the service layer) | p50 | p95 |\n|---|---|---|")
    for name, p50, p95 in command_latencies(services, args.quick):
        print(f"| {name} | {p50 * 1000:.1f} ms | {p95 * 1000:.1f} ms |")

    print(
        "\n| /write 500 chars, concurrent | batched | one after another | ratio | "
        "batched vs one alone |\n|---|---|---|---|---|"
    )
    single = None
    for count in (1, 8, 32):
        batched, sequential = concurrent_writes(services, count)
        single = single or batched
        print(
            f"| {count} | {batched:.2f} s | {sequential:.2f} s | {sequential / batched:.1f}x | "
            f"{batched / single:.1f}x |"
        )

    worst, p99 = loop_lag_during(services, 32)
    print(
        f"\nevent-loop lag while 32 /write run: worst {worst * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms"
    )

    graph = StepGraph(services.engine.get("shakespeare", "charlm"))
    peak = numpy_peak()
    print(f"\nnumpy float32 1024x1024 matmul peak: {peak / 1e9:.1f} GFLOP/s")
    print(
        "| single-step /write call | time per call | achieved | share of peak |\n|---|---|---|---|"
    )
    for batch, calls in ((1, 1000), (32, 300)):
        per_call, flops = achieved_flops(graph, batch, calls)
        print(
            f"| batch {batch} | {per_call * 1e6:.0f} µs | {flops / 1e9:.2f} GFLOP/s | "
            f"{flops / peak:.1%} |"
        )
    print("\n| onnxruntime session | step, batch 1 | step, batch 32 |\n|---|---|---|")
    for row in thread_settings():
        print(row)

    if not args.skip_tutorial:
        from write_speed import step_generate, tutorial_generate

        chars = 60 if args.quick else 120
        _, tutorial = tutorial_generate(chars, 1)
        _, step = step_generate(500, 1)
        ratio = (tutorial / chars) / (step / 500)
        print(
            f"\ntutorial method (Keras predict on a 100-char window, per character): "
            f"{chars / tutorial:.1f} chars/s; single-step ONNX: {500 / step:.0f} chars/s; "
            f"ratio {ratio:.0f}x per character"
        )


if __name__ == "__main__":
    main()
