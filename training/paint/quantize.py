"""`python -m training quantize paint`: the painter with int8 weights (onnxruntime's
dynamic quantisation), written only if it costs at most `--max-cost` bits per pixel on
the held-out paintings and, with `--min-speedup`, only if its steps are that much faster.
A painting is thousands of steps of one row, so the step's time is the painting's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from training.int8 import fixed_scales_section, quantize_checked
from training.int8_static import STATIC
from training.paint.evaluate import held_out_bits


def quantize_paint(
    model_path: Path, folder: Path, out: Path, max_cost: float, min_speedup: float | None
) -> dict:
    def score(path: Path) -> tuple[float, dict]:
        bits, paintings = held_out_bits(path, folder)
        return round(bits, 4), {"held_out_paintings": paintings}

    return quantize_checked(
        model_path, out, "paint", score, "bits_per_pixel", "bits_per_pixel_int8", max_cost,
        min_speedup,
    )  # fmt: skip


def card_section(out: Path, report: dict) -> Path | None:
    """The card's Quantisation section (added, or replaced when there is one)."""
    card = out.with_suffix(".md")
    if not card.exists():
        return None
    text = card.read_text(encoding="utf-8")
    if report.get("fixed_scales"):
        head = re.split(r"\n## Fixed activation scales\n", text)[0].rstrip("\n")
        command = f"python -m training quantize paint --model {out.name} --data FOLDER"
        section = fixed_scales_section(report, "bits_per_pixel", "bits/pixel", command)
        card.write_text(f"{head}\n\n{section}", encoding="utf-8")
        return card
    text = re.split(r"\n## Quantisation\n", text)[0].rstrip("\n")
    speed = report["speed"]
    section = (
        f"\n\n## Quantisation\n\nThe shipped file has {STATIC}: {report['bytes_int8']:,} "
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
