"""Inference tier benchmark: in-process batchers vs one Ray Serve replica vs two.

Each row runs the cogs' own /write callback (admission, deadline, service, pool) with a
stand-in interaction, as bench/serving.py does, so the figures are those of the path
users take, minus Discord. Measured in this one run, on this machine:
- latency of one /write alone (the remote hop's cost is its difference to in-process),
- p50/p95 latency of 32 users' /write at once, and the characters per second they get.

Usage: python bench/serve_tier.py [--length 300] [--users 32]   (needs the `scale` extra)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ray  # noqa: E402
from ray import serve  # noqa: E402
from serving import MODELS, DiscordPath, percentiles  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.runtime.serve_app import start_local  # noqa: E402
from bot.services import Services  # noqa: E402


async def measure(services: Services, users: int, length: int) -> dict:
    path = DiscordPath(services)
    await path.write_once(0, length)  # warm-up
    alone = []
    for seed in range(5):
        started = time.perf_counter()
        await path.write_once(seed, length)
        alone.append(time.perf_counter() - started)
    latencies: list[float] = []

    async def one(seed: int) -> None:
        started = time.perf_counter()
        await path.write_once(seed, length)
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(seed) for seed in range(users)))
    wall = time.perf_counter() - started
    p50, p95 = percentiles(latencies)
    return {
        "alone": percentiles(alone)[0],
        "p50": p50,
        "p95": p95,
        "chars_per_s": users * length / wall,
    }


def run_shape(name: str, settings: Settings, users: int, length: int) -> dict:
    services = Services.start(settings)
    try:
        result = asyncio.run(measure(services, users, length))
    finally:
        services.close(grace=1.0)
    print(
        f"{name:<22} {result['alone'] * 1000:8.0f} {result['p50']:8.2f} {result['p95']:8.2f}"
        f" {result['chars_per_s']:10.0f}",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--length", type=int, default=300)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument(
        "--smoke", action="store_true", help="the quickest run: 2 users, 50 characters"
    )
    args = parser.parse_args()
    if args.smoke:
        args.users, args.length = 2, 50
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"/write of {args.length} characters (shakespeare); {args.users} users at once")
    print(f"{'backend':<22} {'alone ms':>8} {'p50 s':>8} {'p95 s':>8} {'chars/s':>10}")
    local = Settings(model_dir=MODELS, prefer_gpu=False)
    base = run_shape("in-process", local, args.users, args.length)
    ray.init(include_dashboard=False, logging_level="ERROR")
    remote = Settings(model_dir=MODELS, prefer_gpu=False, serve_address="auto")
    rows = {}
    for replicas in (1, 2):
        start_local(MODELS, {"write": replicas})
        rows[replicas] = run_shape(f"Serve, {replicas} replica(s)", remote, args.users, args.length)
    serve.shutdown()
    ray.shutdown()
    one = rows[1]
    print(f"remote hop per request (alone): {(one['alone'] - base['alone']) * 1000:+.0f} ms")
    print(
        f"throughput vs in-process: 1 replica x{one['chars_per_s'] / base['chars_per_s']:.2f}, "
        f"2 replicas x{rows[2]['chars_per_s'] / base['chars_per_s']:.2f}"
    )


if __name__ == "__main__":
    main()
