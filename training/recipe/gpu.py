"""`python -m training recipe gpu --minutes M --out DIR`: train every job of
`training.recipe.jobs` on one machine (a GPU: KERAS_BACKEND=jax) within M minutes.

1. Each job's data is read and its model built exactly as its `train` command would
   (`write_setup`, `paint_setup`, `color_setup`, the name model's `_data`,
   `concept_setup`), with a constant-rate optimizer (the rate follows a per-epoch cosine
   set by a callback, so nothing recompiles once the plan is known).
2. Measuring pass: a few training and validation steps of each model, timed after the
   compiling call: seconds per step, so seconds per epoch.
3. Each model in turn gets its share of the time left (`plan.plan_budget`, re-planned
   before each one, so time a model leaves unused goes to the next) and trains for the
   planned epochs with early stopping; it stops early if its share or the whole budget
   runs out.
4. After every epoch that improves the validation loss, the weights (without optimizer
   state) replace `DIR/NAME.weights.h5`, and `DIR/recipe.json` (every model's run config,
   measurement, plan and log) is rewritten: a run cut off keeps its best weights.

Nothing here imports TensorFlow: on the JAX backend it needs keras (and its own
dependencies), numpy, h5py, Pillow, onnx/onnxruntime and jsonschema (imported by the
modules it shares with the bot), no tf.data. Export is `recipe ship`'s, on the CPU.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from training.errors import UserError
from training.recipe.jobs import JOBS
from training.recipe.plan import (
    RUN_CONFIG,
    Allocation,
    Measure,
    check_outputs,
    check_planned,
    measure_dict,
    plan_budget,
    weights_name,
    write_json_atomic,
)
from training.recipe.setup import (
    Prepared,
    prepare,
    rows,
    take,
)

MEASURE_STEPS = 20  # timed training steps per model (after 2 compiling ones)
MEASURE_VAL_STEPS = 5
TINY_MEASURE_STEPS = 3
TINY_MINUTES = 10.0  # --tiny's default budget: its epochs are capped long before
END_MARGIN = 0.04  # of the budget, kept for the last validation and writes
LR_FLOOR = 0.1  # the cosine ends at this fraction of the starting rate


class StepTimer(keras.callbacks.Callback):
    """Seconds of each training and validation step; reading the loss waits for the step
    to finish (JAX dispatches asynchronously)."""

    def __init__(self) -> None:
        super().__init__()
        self.train: list[float] = []
        self.test: list[float] = []

    def _end(self, times: list[float], logs: dict | None) -> None:
        if logs and "loss" in logs:
            float(keras.ops.convert_to_numpy(logs["loss"]))
        now = time.perf_counter()
        times.append(now - self._began)
        self._began = now

    def on_train_begin(self, logs=None) -> None:
        self._began = time.perf_counter()

    on_test_begin = on_train_begin

    def on_train_batch_begin(self, batch, logs=None) -> None:
        self._began = time.perf_counter()

    on_test_batch_begin = on_train_batch_begin

    def on_train_batch_end(self, batch, logs=None) -> None:
        self._end(self.train, logs)

    def on_test_batch_end(self, batch, logs=None) -> None:
        self._end(self.test, logs)


WARM_UP = 2  # steps that compile (the first) or may still settle


def _steady(times: list[float]) -> tuple[float, float]:
    """(compile seconds, seconds per step) of a list of step times."""
    warm, rest = times[:WARM_UP], times[WARM_UP:] or times[-1:]
    per_step = float(np.median(rest))
    return max(0.0, sum(warm) - len(warm) * per_step), per_step


def measure(p: Prepared, steps: int, val_steps: int) -> Measure:
    """Time a few steps in one fit and one evaluation call: the first steps compile, the
    median of the rest is the steady state. The model keeps what it learned in them (a
    head start, not a separate model)."""
    train_steps = max(1, rows(p.train[0]) // p.batch_size)
    val_total = max(1, math.ceil(rows(p.val[0]) / p.batch_size))
    timer = StepTimer()
    x, y, w = (take(a, 0, (WARM_UP + steps) * p.batch_size) for a in p.train)
    p.model.fit(x, y, sample_weight=w, batch_size=p.batch_size, epochs=1, verbose=0,
                shuffle=False, callbacks=[timer])  # fmt: skip
    x, y, w = (take(a, 0, (WARM_UP + val_steps) * p.batch_size) for a in p.val)
    p.model.evaluate(x, y, sample_weight=w, batch_size=p.batch_size, verbose=0, callbacks=[timer])
    compile_train, per_step = _steady(timer.train)
    compile_test, val_per_step = _steady(timer.test)
    return Measure(
        round(compile_train + compile_test, 3), per_step, train_steps, val_per_step, val_total
    )


class Checkpoint(keras.callbacks.Callback):
    """After each epoch: the log row into the run config, and when the validation loss
    improves, the weights (no optimizer state) into OUT, each written and renamed."""

    def __init__(self, p: Prepared, out: Path, record: dict) -> None:
        super().__init__()
        self.p, self.out, self.record = p, out, record
        self.entry = record["models"][p.job.name]
        self.best = math.inf
        # The same layers in a model with no optimizer: its weights file is a third of
        # the training model's (Adam's two moments per weight stay behind).
        self.weights_only = keras.Model(p.model.inputs, p.model.outputs)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        val_loss = float(logs.get("val_loss", math.nan))
        rate = float(keras.ops.convert_to_numpy(self.p.model.optimizer.learning_rate))
        row = {
            "epoch": len(self.entry["log"]),
            "loss": round(float(logs.get("loss", math.nan)), 6),
            "val_loss": round(val_loss, 6),
            "epoch_seconds": logs.get("epoch_seconds"),
            "learning_rate": round(rate, 8),
        }
        self.entry["log"].append(row)
        if val_loss < self.best:
            self.best = val_loss
            target = self.out / weights_name(self.p.job.name)
            tmp = self.out / f".{self.p.job.name}.partial.weights.h5"
            self.weights_only.save_weights(tmp)
            os.replace(tmp, target)
            self.entry["weights"] = target.name
            self.entry["best_epoch"] = len(self.entry["log"])
            self.entry["best_val_loss"] = round(val_loss, 6)
        self.entry["epochs_run"] = len(self.entry["log"])
        seconds = [r["epoch_seconds"] for r in self.entry["log"] if r["epoch_seconds"]]
        self.entry["training_seconds"] = round(sum(seconds), 1)
        write_json_atomic(self.out / RUN_CONFIG, self.record)
        check_outputs(self.out)


class Deadline(keras.callbacks.Callback):
    """Stops when the model's share is spent (before an epoch that would overrun it) or,
    mid-epoch, when the whole budget is."""

    def __init__(self, share_ends: float, budget_ends: float) -> None:
        super().__init__()
        self.share_ends, self.budget_ends = share_ends, budget_ends
        self.reason: str | None = None
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_started = time.monotonic()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if time.monotonic() > self.budget_ends:
            self.reason = "the budget ran out (mid-epoch)"
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        last = time.monotonic() - self.epoch_started
        if not self.model.stop_training and time.monotonic() + last > self.share_ends:
            self.reason = "its time share ran out"
            self.model.stop_training = True


def cosine_rate(base: float, epochs: int) -> Callable[[int], float]:
    """Per-epoch cosine from `base` down to LR_FLOOR x base at the last planned epoch."""

    def rate(epoch: int, _current: float = 0.0) -> float:
        progress = epoch / max(1, epochs - 1)
        return base * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress)))

    return rate


def train(p: Prepared, allocation: Allocation, budget_ends: float, out: Path, record: dict):
    from training.callbacks import EpochTimer

    entry = record["models"][p.job.name]
    deadline = Deadline(time.monotonic() + allocation.seconds, budget_ends)
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=p.patience)
    x, y, w = p.train
    p.model.fit(
        x,
        y,
        sample_weight=w,
        validation_data=p.val if p.val[2] is not None else p.val[:2],
        batch_size=p.batch_size,
        epochs=allocation.epochs,
        shuffle=True,
        verbose=2 if record["verbose"] else 0,
        callbacks=[
            EpochTimer(),
            keras.callbacks.LearningRateScheduler(cosine_rate(p.learning_rate, allocation.epochs)),
            Checkpoint(p, out, record),
            stopper,
            deadline,
        ],
    )
    if deadline.reason:
        entry["stopped"] = deadline.reason
    elif stopper.stopped_epoch:
        entry["stopped"] = f"early stopping (patience {p.patience})"
    else:
        entry["stopped"] = "planned epochs done"


def _clear_outputs(out: Path) -> None:
    """OUT holds only this run's files: earlier outputs of the recipe are removed, and
    anything else there is refused rather than sent back."""
    out.mkdir(parents=True, exist_ok=True)
    ours = {RUN_CONFIG} | {weights_name(j.name) for j in JOBS}
    stray = [p.name for p in out.iterdir() if p.name not in ours and not p.name.startswith(".")]
    if stray:
        names = ", ".join(sorted(stray)[:5])
        raise UserError(f"{out} holds other files ({names}): give an empty folder")
    for p in out.iterdir():
        if p.is_file():
            p.unlink()


def gpu_main(args) -> None:
    from training.runtime import hardware, training_command, utc_now

    started = time.monotonic()
    tiny = bool(args.tiny)
    minutes = args.minutes if args.minutes is not None else (TINY_MINUTES if tiny else None)
    if minutes is None or minutes <= 0:
        raise UserError("give the budget: --minutes M (wall time for the whole run)")
    budget_ends = started + minutes * 60 * (1 - END_MARGIN)
    out = Path(args.out)
    _clear_outputs(out)
    jobs = [j for j in JOBS if not args.only or j.name in args.only]
    record = {
        "recipe": "gpu",
        "command": training_command(),
        "minutes": minutes,
        "tiny": tiny,
        "hardware": hardware(),
        "keras_backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "started_at": utc_now(),
        "status": "preparing",
        "verbose": not tiny,
        "models": {},
    }
    write_json_atomic(out / RUN_CONFIG, record)
    scratch = Path(tempfile.mkdtemp(prefix="recipe-gpu-"))
    try:
        data_root = Path(args.data_root)
        if tiny:
            from training.recipe.tiny import make_tiny_data

            data_root = make_tiny_data(scratch / "data")
        prepared = []
        for job in jobs:
            p = prepare(job, data_root, scratch, tiny)
            prepared.append(p)
            record["models"][job.name] = {
                "kind": job.kind,
                "stands_for": "python -m training "
                + " ".join(job.train_argv(Path("data"), Path(f"runs/{job.name}"), tiny)),
                "parameters": p.parameters,
                "run": p.run,
                "weights": None,
                "log": [],
            }
        check_planned({p.job.name: p.parameters for p in prepared})
        record["prepare_seconds"] = round(time.monotonic() - started, 1)
        record["status"] = "measuring"
        write_json_atomic(out / RUN_CONFIG, record)

        steps = TINY_MEASURE_STEPS if tiny else MEASURE_STEPS
        val_steps = 2 if tiny else MEASURE_VAL_STEPS
        for p in prepared:
            p.measure = measure(p, steps, val_steps)
            record["models"][p.job.name]["measure"] = measure_dict(p.measure)
            print(
                f"{p.job.name}: {p.parameters:,} parameters, {p.measure.epoch_seconds:.1f} s "
                f"an epoch, compiling {p.measure.compile_seconds:.1f} s",
                flush=True,
            )
        record["measure_seconds"] = round(time.monotonic() - started - record["prepare_seconds"], 1)
        record["status"] = "training"
        write_json_atomic(out / RUN_CONFIG, record)

        for i, p in enumerate(prepared):
            left = prepared[i:]
            plan = plan_budget(
                budget_ends - time.monotonic(),
                {q.job.name: q.measure for q in left},
                {q.job.name: q.job.share for q in left},
                {q.job.name: q.job.tiny_max_epochs() if tiny else q.job.max_epochs for q in left},
            )
            allocation = plan[p.job.name]
            entry = record["models"][p.job.name]
            entry["plan"] = {"seconds": round(allocation.seconds, 1), "epochs": allocation.epochs}
            if allocation.epochs == 0:
                entry["stopped"] = "not trained: no epoch fits the time left"
                print(f"{p.job.name}: {entry['stopped']}", flush=True)
                continue
            print(
                f"{p.job.name}: {allocation.epochs} epochs in {allocation.seconds:.0f} s",
                flush=True,
            )
            for key in ("settings",):  # what the card says of the run
                if key in p.run:
                    p.run[key].update(epochs=allocation.epochs, schedule="cosine per epoch")
            train(p, allocation, budget_ends, out, record)
            write_json_atomic(out / RUN_CONFIG, record)
        record["status"] = "done"
        record["finished_at"] = utc_now()
        record["seconds"] = round(time.monotonic() - started, 1)
        write_json_atomic(out / RUN_CONFIG, record)
        sizes = check_outputs(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(summary(record))
    print(json.dumps({"out": str(out), "files": sizes, "seconds": record["seconds"]}))


def summary(record: dict) -> str:
    lines = [
        f"recipe gpu on {record['hardware']}, {record['minutes']} min budget, "
        f"{record.get('seconds', '?')} s",
        "| model | parameters | s/epoch (measured) | epochs planned | run | best val loss "
        "| stopped |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in record["models"].items():
        epoch = m.get("measure", {}).get("epoch_seconds", "")
        lines.append(
            f"| {name} | {m['parameters']:,} | {epoch} | {m.get('plan', {}).get('epochs', '')} "
            f"| {m.get('epochs_run', 0)} | {m.get('best_val_loss', '')} | {m.get('stopped', '')} |"
        )
    return "\n".join(lines)
