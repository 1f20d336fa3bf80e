"""Serving benchmark: latency per command, users at once vs one after another, event-loop
lag, spinning threads on and off, the tutorials' method vs the step graph, and FLOP/s
against a numpy matmul peak.

Commands go through the Discord cogs' own callbacks (admission, deadline, service,
batcher) with a stand-in interaction that answers instantly, so the figures are those of
the path users take, minus the network.

Everything is measured in this one run, on this machine, with exported_models/.
Usage: python bench/serving.py [--quick | --smoke]   (the tutorial row needs the `train`
extra; --smoke is the quickest run: the cog tables, the floor and the step shares)
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
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import discord  # noqa: E402
from floor import measured_peak, member_graph, step_cost  # noqa: E402
from step_share import non_model_share  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.discord_app.admission import Admission  # noqa: E402
from bot.discord_app.cogs.caption import CaptionCog  # noqa: E402
from bot.discord_app.cogs.color import ColorCog  # noqa: E402
from bot.discord_app.cogs.paint import PaintCog  # noqa: E402
from bot.discord_app.cogs.write import WriteCog  # noqa: E402
from bot.paint.service import PaintRequest  # noqa: E402
from bot.runtime.engine import InferenceEngine  # noqa: E402
from bot.runtime.lm import StepGraph  # noqa: E402
from bot.runtime.sampling import SamplingConfig, sample, sample_rows  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.write.service import WriteRequest  # noqa: E402
from training.int8 import step_seconds  # noqa: E402

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


class BenchResponse:
    """What a cog touches of `interaction.response`; answers instantly."""

    def __init__(self) -> None:
        self.done = False

    def is_done(self) -> bool:
        return self.done

    async def defer(self, **kwargs) -> None:
        self.done = True

    async def send_message(self, *args, **kwargs) -> None:
        self.done = True


class BenchInteraction:
    """A stand-in for a Discord interaction, so the cogs' own callbacks (admission,
    deadline, service, batcher) run exactly as on Discord, minus the network."""

    def __init__(self, user_id: int) -> None:
        self.user = SimpleNamespace(id=user_id)
        self.guild_id = self.channel_id = self.command = self.message = None
        self.client = SimpleNamespace()  # no settings store, metrics or history
        self.extras: dict = {}
        self.created_at = discord.utils.utcnow()
        self.response = BenchResponse()
        self.followup = SimpleNamespace(send=self._noop)
        self.edits = 0

    async def _noop(self, *args, **kwargs) -> None:
        return None

    async def edit_original_response(self, **kwargs) -> None:
        self.edits += 1


class DiscordPath:
    """The cogs the bot registers, on one event loop, with the bot's admission."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        admission = Admission(settings.max_batch, settings.max_waiting, settings.job_seconds)
        self.color = ColorCog(services.color, admission)
        self.write = WriteCog(services.write, admission)
        self.caption = CaptionCog(services.caption, admission)
        self.paint = PaintCog(services.paint, admission)
        self._users = iter(range(1, 10**9))

    def user(self) -> BenchInteraction:
        return BenchInteraction(next(self._users))

    async def color_once(self) -> None:
        await self.color.color.callback(self.color, self.user(), "mossy dragon")

    async def write_once(self, seed: int = 1, length: int = 500) -> None:
        await self.write.write.callback(
            self.write, self.user(), "shakespeare", "", length, 0.8, seed
        )

    async def caption_once(self) -> None:
        await self.caption.caption.callback(self.caption, self.user(), None, "", 1, 0.7, 1)

    async def paint_once(self) -> None:
        await self.paint.paint.callback(self.paint, self.user(), 1, 1.0, None)


async def timed_async(make, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        await make()
        out.append(time.perf_counter() - started)
    return out


async def command_latencies(
    path: DiscordPath, quick: bool, smoke: bool = False
) -> list[tuple[str, float, float]]:
    n = 20 if smoke else 3 if quick else 1
    cases = [
        ("/color (model)", path.color_once, 200 // n),
        ("/write 500 chars", path.write_once, max(1, 10 // n)),
        ("/caption (1 caption)", path.caption_once, max(1, 20 // n)),
        ("/paint 64x64", path.paint_once, max(1 if smoke else 2, 6 // n)),
    ]
    rows = []
    for name, make, repeats in cases:
        await make()  # warm-up
        p50, p95 = percentiles(await timed_async(make, repeats))
        rows.append((name, p50, p95))
    return rows


async def concurrent_writes(path: DiscordPath, count: int) -> tuple[float, float]:
    """Wall time of `count` users' /write through the cog, together vs one after another."""
    started = time.perf_counter()
    await asyncio.gather(*(path.write_once(seed) for seed in range(count)))
    together = time.perf_counter() - started
    started = time.perf_counter()
    for seed in range(count):
        await path.write_once(seed)
    return together, time.perf_counter() - started


async def loop_lag_during(path: DiscordPath, count: int) -> tuple[float, float]:
    """Worst and p99 lag of a 10 ms ticker while `count` users' /write run."""
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    task = asyncio.create_task(ticker())
    await asyncio.gather(*(path.write_once(seed) for seed in range(count)))
    done.set()
    await task
    lags.sort()
    return lags[-1], lags[int(0.99 * (len(lags) - 1))]


async def spin_comparison(quick: bool) -> list[str]:
    """Single /write and 32 concurrent, with onnxruntime's spinning threads on and off."""
    rows = []
    for spin in (True, False):
        services = Services.start(Settings(model_dir=MODELS, prefer_gpu=False, spin=spin))
        path = DiscordPath(services)
        await path.write_once()
        alone = statistics.median(await timed_async(path.write_once, 3 if quick else 5))
        together, _ = await concurrent_writes(path, 32)
        rows.append(
            f"| spinning {'on' if spin else 'off'} | {alone * 1000:.0f} ms | {together:.2f} s | "
            f"{together / alone:.1f}x |"
        )
        await asyncio.to_thread(services.close)
    return rows


def sampler_comparison(rows: int = 32, repeats: int = 300) -> tuple[float, float]:
    """Seconds to sample one token for each of `rows` requests: row by row vs together."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(rows, 65)).astype(np.float32) * 3
    configs = [SamplingConfig(0.8)] * rows
    gens = [np.random.default_rng(i) for i in range(rows)]
    banned = [()] * rows
    started = time.perf_counter()
    for _ in range(repeats):
        for r in range(rows):
            sample(logits[r], configs[r], gens[r])
    per_row = (time.perf_counter() - started) / repeats
    started = time.perf_counter()
    for _ in range(repeats):
        sample_rows(logits, configs, gens, banned)
    return per_row, (time.perf_counter() - started) / repeats


def achieved_flops(graph: StepGraph, batch: int, calls: int) -> tuple[float, float]:
    tokens = np.zeros(batch, np.int32)
    state = graph.zero_state(batch)
    graph(tokens, state)
    started = time.perf_counter()
    for _ in range(calls):
        _, state = graph(tokens, state)
    per_call = (time.perf_counter() - started) / calls
    return per_call, step_cost(graph.model.path).total * batch / per_call


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


async def discord_path_tables(services: Services, quick: bool, smoke: bool) -> dict[int, float]:
    """The Discord-path tables; returns the /write times of users at once, by count."""
    path = DiscordPath(services)
    print("\n| command (through the Discord cog, admission and service) | p50 | p95 |")
    print("|---|---|---|")
    for name, p50, p95 in await command_latencies(path, quick, smoke):
        print(f"| {name} | {p50 * 1000:.1f} ms | {p95 * 1000:.1f} ms |")

    print(
        "\n| /write 500 chars, users at once (Discord path) | together | one after another | "
        "ratio | together vs one alone |\n|---|---|---|---|---|"
    )
    together_by_count = {}
    for count in (1, 32) if smoke else (1, 8, 32):
        together, sequential = await concurrent_writes(path, count)
        together_by_count[count] = together
        print(
            f"| {count} | {together:.2f} s | {sequential:.2f} s | "
            f"{sequential / together:.1f}x | {together / together_by_count[1]:.1f}x |"
        )
    color = services.color
    name = "mossy dragon"
    repeats = 10 if smoke else 200
    service_only = percentiles(timed(lambda: color.color(name, model_only=True), repeats))
    with_swatch = percentiles(
        timed(lambda: color.render(color.color(name, model_only=True)), repeats // 2)
    )
    print(
        f"\n/color in the service layer: p50 {service_only[0] * 1000:.2f} ms "
        f"(p95 {service_only[1] * 1000:.2f}); with the swatch PNG {with_swatch[0] * 1000:.2f} ms"
    )

    worst, p99 = await loop_lag_during(path, 32)
    print(
        f"\nevent-loop lag while 32 users' /write run: worst {worst * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms"
    )
    return together_by_count


def mixture_table(services: Services) -> None:
    """Each mixture's step against one of its members' (cut out of the same graph), on the
    bot's thread setting."""
    engine = services.engine
    options = ort.SessionOptions()
    options.intra_op_num_threads = engine.threads
    rows = []
    for name, model in sorted(engine.by_kind("charlm").items()):
        if "ensemble" not in model.metadata.extra:
            continue
        proto = onnx.load(str(model.path))
        member = member_graph(proto, 0)
        alone = ort.InferenceSession(
            member.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        arithmetic = step_cost(proto).total / step_cost(member).total
        for batch, calls in ((1, 500), (32, 100)):
            mixture, one = (step_seconds(s, batch, calls, 3) for s in (model.session, alone))
            rows.append(
                f"| {name} | {batch} | {mixture * 1e6:.0f} µs | {one * 1e6:.0f} µs | "
                f"{mixture / one:.2f}x | {arithmetic:.2f}x |"
            )
    if rows:
        print(
            f"\n| mixture (intra-op threads: {engine.threads or 'default'}) | batch | its step "
            "| its member 0 alone | ratio | ratio of arithmetic |\n|---|---|---|---|---|---|"
        )
        print("\n".join(rows))


def floor_tables(services: Services, together: dict[int, float], smoke: bool) -> None:
    """Every step model's arithmetic, the machine's peaks, and /write's distance to them."""
    repeats = 10  # fewer gives a low, noisy peak (and so a flattering floor)
    fp32 = max(measured_peak(False, repeats=repeats), numpy_peak(repeats=repeats))
    int8 = measured_peak(True, repeats=repeats)
    print(
        f"\nmachine peaks (1024x1024 products, best of {repeats}): float32 {fp32 / 1e9:.0f} "
        f"GFLOP/s (best of onnxruntime MatMul and numpy), int8 {int8 / 1e9:.0f} GOP/s "
        "(onnxruntime MatMulInteger)"
    )
    print("\n| step model | FLOPs per step and row | of them int8 |\n|---|---|---|")
    for name, model in sorted(services.engine.by_kind("charlm").items()):
        cost = step_cost(model.path)
        print(f"| {name} | {cost.total / 1e6:.2f} M | {cost.int8 / max(cost.total, 1):.0%} |")
    cost = step_cost(services.engine.get("shakespeare", "charlm").path)
    rows = 32 * 500
    floor = cost.floor_seconds(rows, fp32, int8)
    print(
        f"\n32 users x 500 characters of shakespeare: {cost.total * rows / 1e9:.1f} GFLOP; "
        f"floor {floor:.2f} s at the peaks (all float32 {cost.total * rows / fp32:.2f} s, "
        f"all int8 {cost.total * rows / int8:.2f} s); measured through the cog "
        f"{together[32]:.2f} s = {together[32] / floor:.1f}x the floor, "
        f"{together[32] / together[1]:.1f}x one user alone"
    )

    def writes(users: int) -> None:
        jobs = [
            services.write.submit(WriteRequest("shakespeare", length=500, seed=seed))
            for seed in range(users)
        ]
        for job in jobs:
            job.result()

    mixture_table(services)

    print("\n| batcher steps (service layer) | steps | share of step time outside the model |")
    print("|---|---|---|")
    cases = [
        ("/write, 1 user", lambda: writes(1)),
        ("/write, 32 users", lambda: writes(32)),
        ("/paint 64x64, alone", lambda: services.paint.paint(PaintRequest(seed=1))),
    ]
    for label, run in cases:
        share, steps = non_model_share(run)
        print(f"| {label} | {steps} | {share:.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the quickest run through every table but the slow ones",
    )
    parser.add_argument("--skip-tutorial", action="store_true")
    args = parser.parse_args()
    quick = args.quick or args.smoke
    services = Services.start(Settings(model_dir=MODELS, prefer_gpu=False))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"providers {services.engine.providers.providers}"
    )
    together = asyncio.run(discord_path_tables(services, quick, args.smoke))
    floor_tables(services, together, args.smoke)
    services.close()
    if args.smoke:
        return

    print(
        "\n| onnxruntime threads (Discord path) | /write alone | 32 users at once | ratio |"
        "\n|---|---|---|---|"
    )
    for row in asyncio.run(spin_comparison(quick)):
        print(row)

    per_row, together = sampler_comparison()
    print(
        f"\nsampling one token for 32 requests: row by row {per_row * 1e6:.0f} µs, "
        f"vectorised {together * 1e6:.0f} µs ({per_row / together:.1f}x)"
    )

    services = Services.start(Settings(model_dir=MODELS, prefer_gpu=False))
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
    services.close()
    print("\n| onnxruntime session | step, batch 1 | step, batch 32 |\n|---|---|---|")
    for row in thread_settings():
        print(row)

    if not args.skip_tutorial:
        from write_speed import step_generate, tutorial_generate

        chars = 60 if quick else 120
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
