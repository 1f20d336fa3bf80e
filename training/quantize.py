"""`python -m training quantize write`: int8 weights for a /write step model, kept only if
the held-out loss allows it.

Dynamic quantisation stores the LSTM and output weights as int8 (activations are
quantised per call), which makes the file about 4x smaller and the batch-1 step faster
on a CPU. It also changes the numbers, so it is measured, not assumed: both models are
scored on the style's held-out chunks and the int8 file is written only if it costs at
most `--max-cost` nats per character. Whether int8 is faster depends on the machine and
the batch (onnxruntime's int8 kernels pay a per-call quantisation of the activations), so
both files' step times are measured at batch 1 and 32 and reported; with
`--min-speedup S` the int8 file is written only if it is also at least S times as fast
at both. The card gets the measurement and new samples.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from bot.contract.metadata import ModelMetadata
from bot.text.vocabulary import Vocabulary
from training.cards import sample_lines
from training.errors import UserError
from training.onnx_export import atomic_write, attach_metadata
from training.tokenlm.corpus import held_out_split_text
from training.tokenlm.evaluate import evaluate_text, load_step_model

QUANTIZED = "int8 weights (onnxruntime dynamic quantisation)"


def quantize_bytes(model_path: Path) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(model_path), str(out), weight_type=QuantType.QInt8)
        return onnx.load(str(out))


SPEED_BATCHES = (1, 32)


def step_microseconds(model: bytes, batch: int, calls: int = 50, repeats: int = 5) -> float:
    """Best time of one step call at `batch` (zero inputs, one thread: as the bot runs)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
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
    return round(best * 1e6, 1)


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


def held_out_nats(model_path: Path, data: list[Path]) -> dict:
    step = load_step_model(model_path)
    meta = step.model.metadata
    vocab = Vocabulary(meta.vocabulary)
    return evaluate_text(step, held_out_split_text(vocab, data, meta.extra["split"]))


def quantize_write(
    model_path: Path,
    data: list[Path],
    out: Path,
    max_cost: float,
    min_speedup: float | None = None,
) -> dict:
    """Quantise, measure both on the held-out chunks, write `out` only within `max_cost`
    (and, with `min_speedup`, only if int8 is that much faster at batch 1 and 32)."""
    source = onnx.load(str(model_path))
    props = {p.key: p.value for p in source.metadata_props}
    meta = ModelMetadata.from_props(props)
    if meta.extra.get("task") != "write":
        raise UserError(f"{model_path} is not a /write model")
    if meta.extra.get("quantization"):
        raise UserError(f"{model_path} is already quantised; start from the float model")
    float_score = held_out_nats(model_path, data)
    proto = quantize_bytes(model_path)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / model_path.name
        attach_metadata(proto, meta)
        onnx.save(proto, str(candidate))
        int8_score = held_out_nats(candidate, data)
    cost = round(int8_score["nats_per_char"] - float_score["nats_per_char"], 4)
    report = {
        "model": str(model_path),
        "held_out_chars": float_score["n_chars"],
        "nats_per_char_float": float_score["nats_per_char"],
        "nats_per_char_int8": int8_score["nats_per_char"],
        "cost": cost,
        "bytes_float": model_path.stat().st_size,
        "bytes_int8": len(proto.SerializeToString()),
        "max_cost": max_cost,
        "speed": speed_report(model_path.read_bytes(), proto.SerializeToString()),
    }
    if cost > max_cost:
        print(json.dumps({**report, "written": False}))
        raise UserError(f"int8 costs {cost} nats/char (> {max_cost}); {out} not written")
    slowest = min(row["speedup"] for row in report["speed"].values())
    if min_speedup is not None and slowest < min_speedup:
        print(json.dumps({**report, "written": False, "min_speedup": min_speedup}))
        raise UserError(
            f"int8 is only {slowest}x as fast as float at its worst batch (< {min_speedup}); "
            f"keep the float model; {out} not written"
        )
    meta.extra["quantization"] = {k: report[k] for k in report if k != "model"} | {
        "weights": QUANTIZED
    }
    meta.metrics["held_out_nats_per_char_int8"] = int8_score["nats_per_char"]
    attach_metadata(proto, meta)
    atomic_write(proto.SerializeToString(), out)
    return {**report, "written": True, "out": str(out)}


def update_card(out: Path, report: dict) -> Path | None:
    """Add the measurement to the model's card and regenerate its samples from the file."""
    card = out.with_suffix(".md")
    if not card.exists():
        return None
    text = card.read_text(encoding="utf-8")
    head = re.split(r"\n## Quantisation\n|\n## Samples\n", text)[0].rstrip("\n")
    section = [
        "",
        "## Quantisation",
        "",
        f"The shipped file has {QUANTIZED}: {report['bytes_int8']:,} bytes instead of "
        f"{report['bytes_float']:,}. Scored on the same held-out chunks "
        f"({report['held_out_chars']:,} characters, state carried): float "
        f"{report['nats_per_char_float']} nats/char, int8 {report['nats_per_char_int8']} "
        f"(cost {report['cost']:+}; the limit for shipping int8 is {report['max_cost']}). "
        "Made with `python -m training quantize write --model FLOAT.onnx --data TEXT "
        f"--out {out.name}`.",
        "",
    ]
    style = ModelMetadata.from_props(
        {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    ).extra["style"]
    lines = [head, *section, *sample_lines(out, style)]
    card.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return card


def quantize_main(args) -> None:
    out = args.out or args.model
    report = quantize_write(args.model, args.data, out, args.max_cost, args.min_speedup)
    card = update_card(out, report)
    print(json.dumps({**report, "card": str(card) if card else None}))
