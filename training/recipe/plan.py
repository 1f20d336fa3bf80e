"""The recipe's arithmetic, free of Keras: what comes back from a GPU machine, and how a
wall-time budget is split between the models from measured seconds per epoch.

What a borrowed GPU machine can send back is at most 8 files of at most 16 MiB each, 64
MiB in all: `recipe gpu` writes its weights and one run config (JSON) and checks these
limits before training (from each model's parameter count) and after every checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from training.errors import UserError

MiB = 1024 * 1024
MAX_FILES = 8
MAX_FILE_BYTES = 16 * MiB
MAX_TOTAL_BYTES = 64 * MiB
RUN_CONFIG = "recipe.json"  # every model's run config, measurement, plan and log
RUN_CONFIG_ALLOWANCE = 2 * MiB  # room kept for it when the weights are sized up front
H5_OVERHEAD = 256 * 1024  # an .h5 file's own structure, above 4 bytes a parameter


class LimitError(UserError):
    """The output would not fit what a GPU machine can send back."""


def check_sizes(sizes: dict[str, int]) -> None:
    """Raise LimitError unless `sizes` (file name -> bytes) fits 8 files, 16 MiB each,
    64 MiB in all."""
    if len(sizes) > MAX_FILES:
        raise LimitError(f"{len(sizes)} files, at most {MAX_FILES} can come back")
    for name, size in sizes.items():
        if size > MAX_FILE_BYTES:
            raise LimitError(f"{name} is {size / MiB:.1f} MiB, over {MAX_FILE_BYTES // MiB} MiB")
    total = sum(sizes.values())
    if total > MAX_TOTAL_BYTES:
        raise LimitError(f"{total / MiB:.1f} MiB in all, over {MAX_TOTAL_BYTES // MiB} MiB")


def check_outputs(out_dir: Path) -> dict[str, int]:
    """The files in `out_dir` (no folders allowed), checked against the limits."""
    sizes = {}
    for path in sorted(Path(out_dir).iterdir()):
        if not path.is_file() or path.is_symlink():
            raise LimitError(f"{path} is not a plain file: only files come back")
        sizes[path.name] = path.stat().st_size
    check_sizes(sizes)
    return sizes


def weights_bytes(parameters: int) -> int:
    """What a weights-only .h5 file of so many float32 parameters takes, at most."""
    return 4 * parameters + H5_OVERHEAD


def check_planned(parameters: dict[str, int]) -> dict[str, int]:
    """Size the weights files (model -> parameter count) before anything trains, with room
    for the run config; returns the expected bytes of each file."""
    sizes = {weights_name(name): weights_bytes(count) for name, count in parameters.items()}
    check_sizes({**sizes, RUN_CONFIG: RUN_CONFIG_ALLOWANCE})
    return sizes


def weights_name(model: str) -> str:
    return f"{model}.weights.h5"


@dataclass
class Measure:
    """One model's short measuring run: seconds per training and validation step after
    the first (compiling) steps, and how many steps an epoch has."""

    compile_seconds: float
    seconds_per_step: float
    steps_per_epoch: int
    val_seconds_per_step: float
    val_steps: int

    @property
    def epoch_seconds(self) -> float:
        train = self.seconds_per_step * self.steps_per_epoch
        return train + self.val_seconds_per_step * self.val_steps + EPOCH_OVERHEAD_SECONDS


EPOCH_OVERHEAD_SECONDS = 0.5  # a checkpoint and the run config written after an epoch


@dataclass
class Allocation:
    seconds: float  # wall time given to the model, its overhead included
    epochs: int  # 0: dropped, not even one epoch fits


def plan_budget(
    seconds: float,
    measures: dict[str, Measure],
    shares: dict[str, float],
    max_epochs: dict[str, int],
) -> dict[str, Allocation]:
    """Split `seconds` between the models in proportion to their shares: each gets as many
    whole epochs as its part holds (at most its `max_epochs`). Time a model cannot use
    (its epochs capped) goes to the others; a model whose part holds no epoch is dropped
    and its part shared out, the most expensive one first."""
    overhead = {n: m.compile_seconds + EPOCH_OVERHEAD_SECONDS for n, m in measures.items()}
    fixed: dict[str, Allocation] = {}
    active = [n for n in measures if shares.get(n, 0) > 0]
    for n in measures:
        if n not in active:
            fixed[n] = Allocation(0.0, 0)
    while active:
        pool = seconds - sum(a.seconds for a in fixed.values())
        total_share = sum(shares[n] for n in active)
        parts = {n: max(0.0, pool) * shares[n] / total_share for n in active}
        epochs = {
            n: math.floor((parts[n] - overhead[n]) / measures[n].epoch_seconds) for n in active
        }
        capped = [n for n in active if epochs[n] >= max_epochs[n]]
        if capped:
            for n in capped:
                fixed[n] = Allocation(
                    overhead[n] + max_epochs[n] * measures[n].epoch_seconds, max_epochs[n]
                )
                active.remove(n)
            continue
        short = [n for n in active if epochs[n] < 1]
        if short:
            # Drop the one furthest from an epoch, then share again.
            worst = min(short, key=lambda n: parts[n] / (overhead[n] + measures[n].epoch_seconds))
            fixed[worst] = Allocation(0.0, 0)
            active.remove(worst)
            continue
        for n in active:
            fixed[n] = Allocation(parts[n], epochs[n])
        break
    return {n: fixed[n] for n in measures}


def read_run_config(folder: Path) -> dict:
    path = Path(folder) / RUN_CONFIG
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{folder} holds no {RUN_CONFIG}: not the output of `recipe gpu`") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc})") from None
    if record.get("recipe") != "gpu" or not isinstance(record.get("models"), dict):
        raise UserError(f"{path} is not a `recipe gpu` run config")
    return record


def write_json_atomic(path: Path, value: dict) -> None:
    """Write and rename, so a run cut off mid-write leaves the previous version whole."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=1)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def measure_dict(measure: Measure) -> dict:
    return {**asdict(measure), "epoch_seconds": round(measure.epoch_seconds, 3)}


@dataclass(frozen=True)
class Rule:
    """How two models of a kind are compared on their held-out split: the metric (lower
    is better) and, optionally, a second metric that must not fall below a floor (the
    smaller of the old model's value and `guard_floor`)."""

    metric: str
    label: str
    guard: str | None = None
    guard_floor: float = 0.0


def is_better(rule: Rule, old: dict | None, new: dict) -> tuple[bool, str]:
    """Whether `new` replaces `old` (None: nothing shipped), and why."""
    if old is None:
        return True, "nothing shipped"
    if new[rule.metric] >= old[rule.metric]:
        return False, f"{rule.metric} not lower"
    if rule.guard:
        floor = min(old[rule.guard], rule.guard_floor)
        if new[rule.guard] < floor:
            return False, f"{rule.guard} {new[rule.guard]} below {floor}"
    return True, f"{rule.metric} lower"
