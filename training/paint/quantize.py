"""`python -m training quantize paint`: the painter with int8 weights (onnxruntime's
dynamic quantisation), written only if it costs at most `--max-cost` bits per pixel on
the held-out paintings and, with `--min-speedup`, only if its steps are that much faster.
A painting is thousands of steps of one row, so the step's time is the painting's."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import onnx

from bot.contract.metadata import ModelMetadata
from training.errors import UserError
from training.onnx_export import atomic_write, attach_metadata
from training.paint.data import load_paintings
from training.paint.evaluate import bits_per_pixel, painting_nats
from training.quantize import QUANTIZED, quantize_bytes, speed_report
from training.tokenlm.evaluate import load_step_model


def held_out_bits(model_path: Path, folder: Path) -> tuple[float, int]:
    """Bits per pixel on the paintings the model's training held out, and how many."""
    graph = load_step_model(model_path)
    extra = graph.model.metadata.extra
    paintings = load_paintings(folder, extra["size"])
    held = set(extra["split"]["val_names"])
    pixels = paintings.pixels[np.array([n in held for n in paintings.names])]
    if not len(pixels):
        raise UserError(f"none of the held-out paintings is in {folder}")
    return bits_per_pixel(painting_nats(graph, pixels), pixels[..., 0].size), len(pixels)


def quantize_paint(
    model_path: Path, folder: Path, out: Path, max_cost: float, min_speedup: float | None
) -> dict:
    props = {p.key: p.value for p in onnx.load(str(model_path)).metadata_props}
    meta = ModelMetadata.from_props(props)
    if meta.extra.get("task") != "paint":
        raise UserError(f"{model_path} is not a painter")
    if meta.extra.get("quantization"):
        raise UserError(f"{model_path} is already quantised; start from the float model")
    float_bits, paintings = held_out_bits(model_path, folder)
    proto = quantize_bytes(model_path)
    attach_metadata(proto, meta)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / model_path.name
        onnx.save(proto, str(candidate))
        int8_bits, _ = held_out_bits(candidate, folder)
    report = {
        "held_out_paintings": paintings,
        "bits_per_pixel_float": round(float_bits, 4),
        "bits_per_pixel_int8": round(int8_bits, 4),
        "cost": round(int8_bits - float_bits, 4),
        "bytes_float": model_path.stat().st_size,
        "bytes_int8": len(proto.SerializeToString()),
        "max_cost": max_cost,
        "speed": speed_report(model_path.read_bytes(), proto.SerializeToString()),
    }
    slowest = min(row["speedup"] for row in report["speed"].values())
    if report["cost"] > max_cost or (min_speedup is not None and slowest < min_speedup):
        print(json.dumps({**report, "written": False}))
        raise UserError(
            f"int8 costs {report['cost']} bits/pixel (limit {max_cost}) and is {slowest}x "
            f"as fast at its slowest batch (limit {min_speedup}); {out} not written"
        )
    meta.extra["quantization"] = report | {"weights": QUANTIZED}
    meta.metrics["bits_per_pixel_int8"] = report["bits_per_pixel_int8"]
    attach_metadata(proto, meta)
    atomic_write(proto.SerializeToString(), out)
    return {**report, "written": True, "out": str(out)}


def card_section(out: Path, report: dict) -> Path | None:
    """The card's Quantisation section (added, or replaced when there is one)."""
    card = out.with_suffix(".md")
    if not card.exists():
        return None
    text = re.split(r"\n## Quantisation\n", card.read_text(encoding="utf-8"))[0].rstrip("\n")
    speed = report["speed"]
    section = (
        f"\n\n## Quantisation\n\nThe shipped file has {QUANTIZED}: {report['bytes_int8']:,} "
        f"bytes instead of {report['bytes_float']:,}. On the {report['held_out_paintings']} "
        f"held-out paintings: float {report['bits_per_pixel_float']} bits/pixel, int8 "
        f"{report['bits_per_pixel_int8']} (cost {report['cost']:+}; the limit is "
        f"{report['max_cost']}). A step at batch 1 takes {speed['batch_1']['int8_us']} µs "
        f"instead of {speed['batch_1']['float_us']} (one thread). Made with `python -m "
        f"training quantize paint --model FLOAT.onnx --data FOLDER --out {out.name}`; the "
        "figures above this section are the float model's.\n"
    )
    card.write_text(text + section, encoding="utf-8")
    return card


def main(args) -> None:
    out = args.out or args.model
    report = quantize_paint(args.model, args.data, out, args.max_cost, args.min_speedup)
    card_section(out, report)
    print(json.dumps(report))
