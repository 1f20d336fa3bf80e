"""Interleaved pairs: this checkout's serving code against another's (an unpacked earlier
commit, say), on the same model files (or, with `--own-models`, each on its own), one
fresh process per side and round.

Each round prints, per side, through the cogs: `/color` (median of 200), `/write` 500
characters alone (median of 7) and 32 users at once (best of 5), `/paint` 64x64 alone
(wall seconds, and the batcher thread's CPU seconds per painting, in and outside the step
call); and the share of batcher step time outside the model for /write with 1 and 32
users and /paint alone (best of 3 each). Interleaving keeps a changing machine load from
favouring either side.

Usage: python bench/pairs.py --other DIR [--rounds 3] [--paints 3] [--own-models]
       (DIR: e.g. `git archive HEAD bot bench exported_models | tar -x -C DIR`)
       python bench/pairs.py --smoke   (one side, one short round)
       python bench/pairs.py --side ROOT ...   (one side's figures: what a round runs)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "exported_models"


def side(root: Path, paints: int, shares: bool, models: Path, repeats: int) -> str:
    """One side's figures, imported from `root` (run in a process of its own)."""
    sys.path[:0] = [str(root), str(root / "bench")]
    from serving import DiscordPath, concurrent_writes, timed_async
    from step_share import non_model_share

    from bot.config import Settings
    from bot.paint.service import PaintRequest
    from bot.runtime.batching import Batcher
    from bot.runtime.lm import StepGraph
    from bot.services import Services
    from bot.write.service import WriteRequest

    cpu = {"cycle": 0.0, "model": 0.0}
    real_cycle, real_call = Batcher._cycle, StepGraph.__call__

    def cycle(self):
        started = time.thread_time()
        try:
            return real_cycle(self)
        finally:
            cpu["cycle"] += time.thread_time() - started

    def call(self, *args, **kwargs):
        started = time.thread_time()
        try:
            return real_call(self, *args, **kwargs)
        finally:
            cpu["model"] += time.thread_time() - started

    services = Services.start(Settings(model_dir=models, prefer_gpu=False))
    path = DiscordPath(services)

    async def cog_times() -> str:
        await path.color_once()
        color = statistics.median(await timed_async(path.color_once, 20 * repeats))
        await path.write_once()
        alone = statistics.median(await timed_async(path.write_once, max(1, repeats - 3)))
        crowd = min([(await concurrent_writes(path, 32))[0] for _ in range(repeats // 2 or 1)])
        return f"color {color * 1e3:.2f} ms | write alone {alone:.3f} s, 32 at once {crowd:.3f} s"

    async def paint_times() -> list[float]:
        await path.paint_once()  # warm-up
        cpu["cycle"] = cpu["model"] = 0.0
        times = []
        for _ in range(paints):
            started = time.perf_counter()
            await path.paint_once()
            times.append(time.perf_counter() - started)
        return times

    cogs = asyncio.run(cog_times())
    Batcher._cycle, StepGraph.__call__ = cycle, call
    try:
        times = asyncio.run(paint_times())
    finally:
        Batcher._cycle, StepGraph.__call__ = real_cycle, real_call
    model, other = cpu["model"] / paints, (cpu["cycle"] - cpu["model"]) / paints
    line = (
        f"{cogs} | paint {' '.join(f'{t:.3f}' for t in times)} s | batcher CPU per painting: "
        f"step call {model:.3f} s, outside it {other:.3f} s"
    )
    if shares:

        def writes(users: int) -> None:
            jobs = [
                services.write.submit(WriteRequest("shakespeare", length=500, seed=seed))
                for seed in range(users)
            ]
            for job in jobs:
                job.result()

        cases = {
            "write 1": lambda: writes(1),
            "write 32": lambda: writes(32),
            "paint": lambda: services.paint.paint(PaintRequest(seed=1)),
        }
        writes(2)  # warm-up
        best = {k: min(non_model_share(run)[0] for _ in range(3)) for k, run in cases.items()}
        line += " | outside the model: " + ", ".join(f"{k} {v:.1%}" for k, v in best.items())
    services.close()
    return line


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", type=Path, help="the other checkout's root")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--paints", type=int, default=3)
    parser.add_argument(
        "--own-models", action="store_true", help="each side serves its own exported_models/"
    )
    parser.add_argument("--smoke", action="store_true", help="this side only, one painting")
    parser.add_argument("--side", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-shares", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=10, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        models = args.side / "exported_models" if args.own_models else MODELS
        print(side(args.side, args.paints, not args.no_shares, models, args.repeats))
        return
    if args.smoke:
        args.other, args.rounds, args.paints = None, 1, 1
    elif args.other is None:
        parser.error("--other DIR is needed (or --smoke)")
    sides = (
        [("current", ROOT)] if args.other is None else [("other", args.other), ("current", ROOT)]
    )
    for round_ in range(1, args.rounds + 1):
        for name, root in sides:
            argv = [sys.executable, __file__, "--side", str(root), "--paints", str(args.paints)]
            if args.smoke:
                argv += ["--no-shares", "--repeats", "1"]
            if args.own_models:
                argv.append("--own-models")
            done = subprocess.run(argv, capture_output=True, text=True, check=True)
            print(f"round {round_} {name:7s} {done.stdout.strip()} ({load()})", flush=True)


if __name__ == "__main__":
    main()
