"""Acknowledgement under a burst: N users send /color, /write and /paint at once through
the local Discord stand-in (tests/local_discord/), optionally while CPU-bound work runs
beside the bot, and the time each interaction waited for its first response is printed.

Discord drops an interaction that gets no first response (an answer or a defer) within
3 s: the user sees "The application did not respond". So the figures that matter are the
worst and the 99th-percentile acknowledgement time, and how many got none in time.

The stand-in and the users run in this process; the bot runs in a child process, as in
production, so a busy bot cannot slow the clock that measures it. The stand-in is
wrapped to note every first-response attempt, also the late ones it refuses, so a time
over 3 s is measured rather than only counted.

    python bench/ack_burst.py                 # idle machine
    python bench/ack_burst.py --load 2        # 2 busy-looping processes beside the bot
    python bench/ack_burst.py --train         # a real `/train` fine-tune beside the bot
    python bench/ack_burst.py --bot-env RNNBOT_ORT_SPIN=0   # a setting of the bot's
    python bench/ack_burst.py --commands help # the floor: answered at once, no model
    python bench/ack_burst.py --profile stacks.txt   # py-spy's view of the bot meanwhile

It also prints the CPU seconds the stand-in, the bot and the load used during the burst.
A run takes 10 to 40 s (`--users`, `--wait`, `--settle` to change).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.local_discord import TOKEN, Conversation, LocalDiscord  # noqa: E402

MODELS = ROOT / "exported_models"
OPTIONS = {  # each command's options in the burst
    "color": {"name": "mossy dragon"},
    "write": {"length": 200},
    "paint": {},
    "help": {},  # answered at once, no model: the floor of what an acknowledgement costs
}


class TimingDiscord(LocalDiscord):
    """The stand-in, noting when each interaction's first response was attempted (the
    refused late ones too: the stand-in records only those it accepts)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.attempts: dict[str, float] = {}

    def _callback(self, interaction_id, token, payload, files):
        self.attempts.setdefault(token, self.clock.now())
        return super()._callback(interaction_id, token, payload, files)


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by these processes (user + system), from /proc."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    """What one burst measured, in seconds."""

    users: int
    acked_in_time: int
    late: int  # a first response came, after the window (refused)
    never: int  # none came while we waited
    p50: float
    p99: float
    worst: float

    def line(self, label: str) -> str:
        return (
            f"| {label} | {self.users} | {self.p50 * 1000:.0f} ms | {self.p99 * 1000:.0f} ms | "
            f"{self.worst * 1000:.0f} ms | {self.late + self.never} ({self.late} late, "
            f"{self.never} never) |"
        )


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted samples (`share` in 0..1)."""
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def figures(discord: TimingDiscord, runs: list[Conversation]) -> Figures:
    """Times from sending to the first response's arrival at the stand-in (accepted or
    refused as late), so the slow tail is measured, not only counted."""
    waits = sorted(
        discord.attempts[c.token] - c.dispatched_at for c in runs if c.token in discord.attempts
    )
    in_time = sum(c.acknowledged for c in runs)
    never = len(runs) - len(waits)
    if not waits:
        return Figures(len(runs), 0, 0, never, float("nan"), float("nan"), float("nan"))
    return Figures(
        len(runs),
        in_time,
        len(waits) - in_time,
        never,
        statistics.median(waits),
        percentile(waits, 0.99),
        waits[-1],
    )


# ---- beside the bot -------------------------------------------------------------------


def busy_loops(count: int) -> list[subprocess.Popen]:
    """`count` processes that each keep one core busy (another tenant, a build...)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def finetune(work: Path) -> subprocess.Popen:
    """A fine-tune as `/train` starts it (bot/discord_app/cogs/train.py): the same module
    and options, half the cores for its threads, nice 10, on a small text."""
    text = work / "text.txt"
    line = "the cat sees the moon, and the king keeps his crown.\n"
    text.write_text(line * 2000, encoding="utf-8")
    threads = str(max(1, (os.cpu_count() or 2) // 2))
    env = dict(os.environ, OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads)
    env.update(TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    command = [
        sys.executable, "-m", "training", "finetune", "write",
        "--from", str(MODELS / "shakespeare.onnx"), "--data", str(text),
        "--style", "benchburst", "--run-dir", str(work / "run"),
        "--out", str(work / "benchburst.onnx"), "--epochs", "20", "--sample-length", "200",
    ]  # fmt: skip
    log = (work / "finetune.log").open("wb")
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_nice
    )


def _nice() -> None:
    os.nice(10)


def profile(pid: int, out: Path) -> subprocess.Popen:
    """py-spy samples the bot (every thread, idle ones left out) through the burst, as
    collapsed stacks: where the event loop spends the seconds before each defer."""
    command = ["py-spy", "record", "--pid", str(pid), "--duration", "8", "--threads"]
    return subprocess.Popen([*command, "--format", "raw", "--output", str(out)])


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---- the bot, in a child process ---------------------------------------------------------


def start_bot(discord: LocalDiscord, work: Path, bot_env: list[str]) -> subprocess.Popen:
    """This script again, as the bot (`--serve`), pointed at the stand-in."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), RNNBOT_CPU_ONLY="1")
    env.update(RNNBOT_MODEL_DIR=str(MODELS), RNNBOT_SETTINGS_DB=str(work / "settings.sqlite3"))
    env.update(RNNBOT_OUTPUT_DIR=str(work / "out"), TF_CPP_MIN_LOG_LEVEL="2")
    env.update(item.split("=", 1) for item in bot_env)
    command = [sys.executable, __file__, "--serve", discord.api_base, discord.gateway_url]
    log = (work / "bot.log").open("wb")
    return subprocess.Popen(command + [discord.cdn_base], env=env, stdout=log, stderr=log)


def serve(api_base: str, gateway_url: str, cdn_base: str) -> None:
    """The child: the real bot (`bot.discord_app.client.serve`) against the stand-in."""
    from bot.config import Settings
    from bot.discord_app.client import serve as serve_bot
    from bot.discord_app.endpoints import use_local_discord
    from bot.services import Services

    use_local_discord(api_base, gateway_url, cdn_base)
    services = Services.start(Settings.from_env())
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # a bench: no grace needed
    asyncio.run(serve_bot(services, TOKEN))


# ---- the burst -------------------------------------------------------------------------


async def warm_up(discord: LocalDiscord, commands: list[str]) -> None:
    """One of each command, answered, so first-call costs stay out of the figures."""
    for command in commands:
        run = await discord.run(command, user_id=1, wait=False, **OPTIONS[command])
        await run.wait_until(answered, timeout=120)


def answered(conversation: Conversation) -> bool:
    """The final answer is there: a follow-up, or the original edited to carry buttons."""
    if conversation.done.is_set():
        return True
    return bool(conversation.message_ids) and bool(conversation.message.get("components"))


async def burst(
    discord: TimingDiscord, commands: list[str], users: int, wait: float
) -> dict[str, list]:
    """`users` interactions sent at once, each by another user, the commands in turn;
    waits until each has had a first response attempted, or `wait` seconds. By command."""
    names = [commands[i % len(commands)] for i in range(users)]
    runs = await asyncio.gather(
        *(
            discord.run(name, user_id=1000 + i, wait=False, **OPTIONS[name])
            for i, name in enumerate(names)
        )
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(c.token not in discord.attempts for c in runs):
        await asyncio.sleep(0.05)
    by_command = {"all": runs}
    for name, run in zip(names, runs, strict=True):
        by_command.setdefault(f"/{name}", []).append(run)
    return by_command


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Figures]:
    """Start the stand-in and the bot, warm up, start the load, burst; figures by command."""
    discord = TimingDiscord()
    await discord.start()
    bot = start_bot(discord, work, args.bot_env)
    beside: list[subprocess.Popen] = []
    try:
        await asyncio.wait_for(discord.ready.wait(), 120)
        await warm_up(discord, args.commands)
        beside = busy_loops(args.load) + ([finetune(work)] if args.train else [])
        await asyncio.sleep(args.settle if beside else 0)
        spy = profile(bot.pid, args.profile) if args.profile else None
        await asyncio.sleep(1.0 if spy else 0)  # py-spy attaches
        pids = {"stand-in and users": [os.getpid()], "bot": [bot.pid]}
        pids["beside"] = [process.pid for process in beside]
        before = {name: cpu_seconds(group) for name, group in pids.items()}
        started = time.monotonic()
        runs = await burst(discord, args.commands, args.users, args.wait)
        spent = time.monotonic() - started
        used = (f"{name} {cpu_seconds(pids[name]) - before[name]:.1f} s" for name in pids)
        print(f"CPU used in the {spent:.1f} s of the burst: {', '.join(used)}")
        if spy is not None:
            await asyncio.to_thread(spy.wait)
        return {name: figures(discord, group) for name, group in runs.items()}
    finally:
        stop(beside + [bot])
        with contextlib.suppress(Exception):
            await discord.stop()
        if args.keep_logs:
            for log in work.glob("*.log"):
                shutil.copy(log, args.keep_logs / log.name)


def label(args: argparse.Namespace) -> str:
    parts = [f"{args.load} busy processes" if args.load else ""]
    parts += ["a /train fine-tune" if args.train else "", *args.bot_env]
    return ", ".join(p for p in parts if p) or "idle"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument(
        "--commands",
        type=lambda text: text.split(","),
        default=["color", "write", "paint"],
        help=f"sent in turn, from: {','.join(OPTIONS)} (default color,write,paint)",
    )
    parser.add_argument("--load", type=int, default=0, help="busy-looping processes beside")
    parser.add_argument("--train", action="store_true", help="a /train fine-tune beside")
    parser.add_argument("--settle", type=float, default=10.0, help="s of load before the burst")
    parser.add_argument("--wait", type=float, default=30.0, help="s to wait for first responses")
    parser.add_argument("--bot-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep-logs", type=Path, help="copy the bot's and trainer's logs here")
    parser.add_argument("--profile", type=Path, help="py-spy's collapsed stacks of the bot")
    parser.add_argument("--serve", nargs=3, metavar=("API", "GATEWAY", "CDN"), help="internal")
    parser.add_argument(
        "--smoke", action="store_true", help="the quickest run: 10 users, no settling"
    )
    args = parser.parse_args()
    if args.smoke:
        args.users, args.settle, args.wait = 10, 0.0, 15.0
    unknown = set(args.commands) - set(OPTIONS)
    if unknown:
        parser.error(f"unknown commands {sorted(unknown)}; choose from {list(OPTIONS)}")
    if args.serve:
        serve(*args.serve)
        return
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)  # the bot is killed mid-request
    with tempfile.TemporaryDirectory(prefix="ack-burst-") as folder:
        started = time.monotonic()
        results = asyncio.run(measure(args, Path(folder)))
    print(f"machine: {os.cpu_count()} CPU cores; run took {time.monotonic() - started:.0f} s")
    print("| beside the bot | users | p50 ack | p99 ack | worst ack | no answer in 3 s |")
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        print(result.line(label(args) + ("" if name == "all" else f": {name}")))


if __name__ == "__main__":
    main()
