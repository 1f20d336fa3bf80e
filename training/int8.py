"""Int8 weights by measurement: onnxruntime's quantisation of a step model with fixed
activation scales (`training.int8_static`), both files' step times, and the one rule every
kind ships int8 by (written only within a held-out cost and, if asked, a speed-up)."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from bot.contract.metadata import ModelMetadata
from training.errors import UserError
from training.int8_static import STATIC, static_int8
from training.onnx_export import atomic_write, attach_metadata

DYNAMIC = "int8 weights (onnxruntime dynamic quantisation)"  # what earlier files were


def quantize_bytes(model_path: Path) -> onnx.ModelProto:
    """onnxruntime's int8 weights, then fixed activation scales in place of its per-call
    ones (so that a batch row's answer never depends on the other rows)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(model_path), str(out), weight_type=QuantType.QInt8)
        return static_int8(onnx.load(str(out)))


SPEED_BATCHES = (1, 32)


def step_seconds(
    session: ort.InferenceSession, batch: int, calls: int = 50, repeats: int = 5
) -> float:
    """Best time of one step call of `session` at `batch` rows (zero inputs)."""
    feeds = {
        i.name: np.zeros(batch, np.int32)
        if "int" in i.type
        else np.zeros((batch, i.shape[1]), np.float32)
        for i in session.get_inputs()
    }
    session.run(None, feeds)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            session.run(None, feeds)
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def step_microseconds(model: bytes, batch: int) -> float:
    """Best time of one step call at `batch`, on one thread as the bot runs it."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return round(step_seconds(session, batch) * 1e6, 1)


def speed_report(float_bytes: bytes, int8_bytes: bytes) -> dict:
    """Step times of both files at each batch, measured alternately, and int8's speed-up."""
    report = {}
    for batch in SPEED_BATCHES:
        float_us = step_microseconds(float_bytes, batch)
        int8_us = step_microseconds(int8_bytes, batch)
        float_us = min(float_us, step_microseconds(float_bytes, batch))
        report[f"batch_{batch}"] = {
            "float_us": float_us,
            "int8_us": int8_us,
            "speedup": round(float_us / int8_us, 3),
        }
    return report


Score = Callable[[Path], tuple[float, dict]]  # a file's held-out loss, and what it was on


def quantize_checked(
    model_path: Path,
    out: Path,
    task: str,
    score: Score,
    unit: str,
    metric: str,
    max_cost: float,
    min_speedup: float | None = None,
) -> dict:
    """Quantise a `task` step model, score both files with `score` (lower is better, in
    `unit`), and write `out` only within `max_cost` (and, with `min_speedup`, only if int8
    is that much faster at batch 1 and 32); the measurement goes into its metadata, the
    int8 score into its metrics as `metric`."""
    source = onnx.load(str(model_path))
    meta = ModelMetadata.from_props({p.key: p.value for p in source.metadata_props})
    if meta.extra.get("task") != task:
        raise UserError(f"{model_path} is not a /{task} model")
    if meta.extra.get("quantization", {}).get("weights") == DYNAMIC:
        return fixed_scales_checked(source, meta, out, score, unit, metric, max_cost)
    if meta.extra.get("quantization"):
        raise UserError(f"{model_path} is already quantised; start from the float model")
    float_loss, facts = score(model_path)
    proto = quantize_bytes(model_path)
    attach_metadata(proto, meta)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / model_path.name
        onnx.save(proto, str(candidate))
        int8_loss, _ = score(candidate)
    cost = round(int8_loss - float_loss, 4)
    report = {
        "model": str(model_path),
        **facts,
        f"{unit}_float": float_loss,
        f"{unit}_int8": int8_loss,
        "cost": cost,
        "bytes_float": model_path.stat().st_size,
        "bytes_int8": len(proto.SerializeToString()),
        "max_cost": max_cost,
        "speed": speed_report(model_path.read_bytes(), proto.SerializeToString()),
    }
    if cost > max_cost:
        print(json.dumps({**report, "written": False}))
        raise UserError(f"int8 costs {cost} {unit} (> {max_cost}); {out} not written")
    slowest = min(row["speedup"] for row in report["speed"].values())
    if min_speedup is not None and slowest < min_speedup:
        print(json.dumps({**report, "written": False, "min_speedup": min_speedup}))
        raise UserError(
            f"int8 is only {slowest}x as fast as float at its worst batch (< {min_speedup}); "
            f"keep the float model; {out} not written"
        )
    meta.extra["quantization"] = {k: report[k] for k in report if k != "model"} | {
        "weights": STATIC
    }
    meta.metrics[metric] = int8_loss
    attach_metadata(proto, meta)
    atomic_write(proto.SerializeToString(), out)
    return {**report, "written": True, "out": str(out)}


def fixed_scales_checked(
    source: onnx.ModelProto,
    meta: ModelMetadata,
    out: Path,
    score: Score,
    unit: str,
    metric: str,
    max_cost: float,
) -> dict:
    """A file quantised with per-call activation scales, given fixed ones: both scored
    with `score`, and `out` written only within `max_cost` of the file it came from."""
    proto = static_int8(source)
    attach_metadata(proto, meta)
    with tempfile.TemporaryDirectory() as tmp:
        paths = Path(tmp) / "dynamic" / out.name, Path(tmp) / "static" / out.name
        for path, model in zip(paths, (source, proto), strict=True):
            path.parent.mkdir()
            onnx.save(model, str(path))
        (dynamic_loss, facts), (static_loss, _) = (score(path) for path in paths)
    cost = round(static_loss - dynamic_loss, 4)
    report = {
        **facts,
        f"{unit}_dynamic": dynamic_loss,
        f"{unit}_static": static_loss,
        "cost": cost,
        "max_cost": max_cost,
        "speed": {
            f"batch_{batch}": {
                "dynamic_us": step_microseconds(source.SerializeToString(), batch),
                "static_us": step_microseconds(proto.SerializeToString(), batch),
            }
            for batch in SPEED_BATCHES
        },
    }
    if cost > max_cost:
        print(json.dumps({**report, "written": False}))
        raise UserError(f"fixed scales cost {cost} {unit} (> {max_cost}); {out} not written")
    meta.extra["quantization"] = {**meta.extra["quantization"], "weights": STATIC,
                                  "fixed_scales": report}  # fmt: skip
    meta.metrics[metric] = static_loss
    attach_metadata(proto, meta)
    atomic_write(proto.SerializeToString(), out)
    return {**report, "written": True, "out": str(out), "fixed_scales": True}


def fixed_scales_section(report: dict, unit: str, label: str, command: str) -> str:
    """A card's account of a `fixed_scales_checked` rewrite (markdown, one section)."""
    one, many = report["speed"]["batch_1"], report["speed"]["batch_32"]
    return (
        "## Fixed activation scales\n\n"
        "The int8 products quantise their inputs with fixed scales (an LSTM's output lies "
        "in (-1, 1), an embedding's values are those of its table) instead of one scale per "
        "call over the whole batch, so a row's answer is the same whoever else is in the "
        f"batch, on any number of threads. On the held-out split: {report[unit + '_dynamic']} "
        f"{label} with per-call scales, {report[unit + '_static']} with fixed ones (cost "
        f"{report['cost']:+}; the limit is {report['max_cost']}). A step takes "
        f"{one['static_us']} µs at batch 1 and {many['static_us']} µs at batch 32 "
        f"({one['dynamic_us']} and {many['dynamic_us']} before; one thread). Made with "
        f"`{command}`.\n"
    )
