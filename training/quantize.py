"""`python -m training quantize write`: int8 weights for a /write step model, kept only if
the held-out loss allows it.

Dynamic quantisation stores the LSTM and output weights as int8 (activations are
quantised per call), which makes the file about 4x smaller and the batch-1 step faster
on a CPU. It also changes the numbers, so it is measured, not assumed: both models are
scored on the style's held-out chunks and the int8 file is written only if it costs at
most `--max-cost` nats per character. The card gets the measurement and new samples.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import onnx

from bot.metadata import ModelMetadata
from bot.vocabulary import Vocabulary
from training.cards import sample_lines
from training.charlm.corpus import held_out_split_text
from training.charlm.evaluate import evaluate_text, load_step_model
from training.errors import UserError
from training.onnx_export import atomic_write, attach_metadata

QUANTIZED = "int8 weights (onnxruntime dynamic quantisation)"


def quantize_bytes(model_path: Path) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(model_path), str(out), weight_type=QuantType.QInt8)
        return onnx.load(str(out))


def held_out_nats(model_path: Path, data: list[Path]) -> dict:
    step = load_step_model(model_path)
    meta = step.model.metadata
    vocab = Vocabulary(meta.vocabulary)
    return evaluate_text(step, held_out_split_text(vocab, data, meta.extra["split"]))


def quantize_write(model_path: Path, data: list[Path], out: Path, max_cost: float) -> dict:
    """Quantise, measure both on the held-out chunks, write `out` only within `max_cost`."""
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
    }
    if cost > max_cost:
        print(json.dumps({**report, "written": False}))
        raise UserError(f"int8 costs {cost} nats/char (> {max_cost}); {out} not written")
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
    report = quantize_write(args.model, args.data, out, args.max_cost)
    card = update_card(out, report)
    print(json.dumps({**report, "card": str(card) if card else None}))
