"""A `/train` job's process and folder: where the trainer runs, how it is started (niced,
bounded threads, no secrets, dying with the bot), what its reply shows, how its model is
staged into the server's folder, and what a killed bot leaves behind."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import ctypes
import json
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.contract.trained import model_path
from bot.discord_app.replies import shown_text
from bot.runtime.engine import file_metadata

SAMPLE = re.compile(r"--- epoch (\d+), temperature 0\.5 ---\n(.*?)\n\n", re.DOTALL)
PATH = re.compile(r"(?:/[^\s/'\"`:,]+)+/([^\s/'\"`:,]+)")  # a path, to show by its last part
JOB_PREFIX = "rnnbot-train-"
OWNER_FILE = "owner.json"  # which bot and which trainer a job folder belongs to
OUTPUT_CHARS = 60_000  # the trainer's recent output kept for the progress reply
# Never in the trainer's environment: the bot's token, and the inference tier's.
SECRETS = ("DISCORD_TOKEN", "DISCORD_TOKEN_FILE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


@dataclass
class TrainingJob:
    """One fine-tuning process and what its reply shows."""

    style: str
    guild_id: int
    folder: Path
    process: asyncio.subprocess.Process | None = None
    output: str = ""
    cancelled: bool = False
    installing: bool = False  # past the point where cancelling could undo it
    started: float = field(default_factory=time.monotonic)

    @property
    def run_dir(self) -> Path:
        return self.folder / "run"

    @property
    def model(self) -> Path:
        return self.folder / f"{self.style}.onnx"

    def progress(self) -> str:
        """Epochs done, the last losses, and the newest sample."""
        rows = []
        with contextlib.suppress(OSError), (self.run_dir / "log.csv").open() as f:
            rows = list(csv.DictReader(f))
        minutes = (time.monotonic() - self.started) / 60
        lines = [f"Training **{self.style}** · {minutes:.0f} min"]
        if rows:
            last = rows[-1]
            best = min(float(r["val_loss"]) for r in rows)
            lines.append(
                f"epoch {len(rows)} · loss {float(last['loss']):.3f} · held-out "
                f"{float(last['val_loss']):.3f} nats/char (best {best:.3f})"
            )
        samples = SAMPLE.findall(self.output)
        if samples:
            epoch, text = samples[-1]
            lines.append(f"sample after epoch {epoch}:\n> {shown_text(text[:300])}")
        return "\n".join(lines)[:1900]


def stage(job: TrainingJob, model_dir: Path) -> None:
    """Copy the job's model (and its weights) into the server's folder under a temporary
    name and rename it there, so the engine never sees half a file. The weights go first:
    the model's arrival is what a reload sees."""
    target = model_path(model_dir, job.guild_id, job.style)
    target.parent.mkdir(parents=True, exist_ok=True)
    for source in (job.model.with_suffix(".weights.h5"), job.model):
        if source.exists():
            staged = target.parent / f".{source.name}.part"
            shutil.copyfile(source, staged)
            staged.replace(target.parent / source.name)


def adopt_old_styles(model_dir: Path, styles: Iterable[tuple[int, str]]) -> list[str]:
    """Styles that `/train` installed at the top of the model folder, before each server
    had its own folder, moved into their servers' folders (with their weights): at the
    top they would pass for shipped models, seen by every server. Only a file that is a
    writing style of that very name moves. Returns the styles moved."""
    moved = []
    for guild, style in sorted(styles):
        old, new = Path(model_dir) / f"{style}.onnx", model_path(model_dir, guild, style)
        if new.exists() or not old.is_file():
            continue
        try:
            meta = file_metadata(old)
        except ValueError:
            continue
        if meta.extra.get("task") != "write" or meta.extra.get("style") != style:
            continue
        new.parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".weights.h5", ".onnx"):  # the model last: a reload sees it whole
            if old.with_suffix(suffix).exists():
                os.replace(old.with_suffix(suffix), new.with_suffix(suffix))
        moved.append(style)
    return moved


def without_paths(text: str) -> str:
    """A trainer's message as users may see it: each file path cut to its last part."""
    return PATH.sub(r"\1", text)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_up_after_killed_bots(folder: Path | None = None) -> list[Path]:
    """Remove the job folders of bots that are gone, stopping their trainers if one still
    runs; the folders of live bots (other shards) are left alone, and so is anything that
    is not a job folder this user made. Returns those removed."""
    removed = []
    for job in sorted(Path(folder or tempfile.gettempdir()).glob(f"{JOB_PREFIX}*")):
        owners = _owners(job)
        if owners is None:
            continue
        bot, trainer = owners
        if bot != os.getpid() and alive(bot):
            continue
        if trainer is not None and str(job / "text.txt") in _arguments(trainer):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(trainer, signal.SIGKILL)
        shutil.rmtree(job, ignore_errors=True)
        removed.append(job)
    return removed


def _owners(job: Path) -> tuple[int, int | None] | None:
    """(bot pid, trainer pid or None) of a job folder of ours; None for anything else: a
    link, another user's folder, a file that does not parse or names no plausible pid."""
    try:
        info = job.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return None
        owners = json.loads((job / OWNER_FILE).read_text())
        bot, trainer = owners["bot"], owners.get("trainer")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not _pid(bot) or not (trainer is None or _pid(trainer)):
        return None
    return bot, trainer


def _pid(value: object) -> bool:
    return type(value) is int and 0 < value < 2**22  # Linux's pid_max at most


def _arguments(pid: int) -> list[str]:
    """A process's command line, argument by argument ([] when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def trainer_environment() -> dict[str, str]:
    """The bot's environment without its secrets, with the trainer's threads bounded so
    the bot keeps a core for answering within Discord's 3 seconds."""
    threads = str(max(1, (os.cpu_count() or 2) // 2))
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(
        OMP_NUM_THREADS=threads,
        TF_NUM_INTRAOP_THREADS=threads,
        TF_NUM_INTEROP_THREADS="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    return env


_PR_SET_PDEATHSIG = 1
_prctl = (
    getattr(ctypes.CDLL(None, use_errno=True), "prctl", None) if sys.platform == "linux" else None
)


def as_trainer() -> None:
    """Runs in the child before it starts: a lower priority, and death with the bot.
    Only async-signal-safe work here (the bot has threads)."""
    os.nice(10)
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
