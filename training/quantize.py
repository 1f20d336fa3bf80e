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
from pathlib import Path

import onnx

from bot.contract.metadata import ModelMetadata
from bot.text.vocabulary import Vocabulary
from training.cards import sample_lines
from training.int8 import fixed_scales_section, quantize_checked
from training.int8_static import STATIC
from training.tokenlm.corpus import held_out_split_text
from training.tokenlm.evaluate import evaluate_text, load_step_model


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
    """A /write style with int8 weights, scored on its held-out chunks (nats/char)."""

    def score(path: Path) -> tuple[float, dict]:
        result = held_out_nats(path, data)
        return result["nats_per_char"], {"held_out_chars": result["n_chars"]}

    metric = "held_out_nats_per_char_int8"
    return quantize_checked(
        model_path, out, "write", score, "nats_per_char", metric, max_cost, min_speedup
    )


def update_card(out: Path, report: dict) -> Path | None:
    """Add the measurement to the model's card and regenerate its samples from the file."""
    card = out.with_suffix(".md")
    if not card.exists():
        return None
    text = card.read_text(encoding="utf-8")
    head = re.split(r"\n## Fixed activation scales\n|\n## Samples\n", text)[0].rstrip("\n")
    if report.get("fixed_scales"):
        command = f"python -m training quantize write --model {out.name} --data TEXT"
        section = ["", fixed_scales_section(report, "nats_per_char", "nats/char", command)]
    else:
        head = re.split(r"\n## Quantisation\n", head)[0].rstrip("\n")
        section = quantisation_section(out, report)
    style = ModelMetadata.from_props(
        {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    ).extra["style"]
    lines = [head, *section, *sample_lines(out, style)]
    card.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return card


def quantisation_section(out: Path, report: dict) -> list[str]:
    return [
        "",
        "## Quantisation",
        "",
        f"The shipped file has {STATIC}: {report['bytes_int8']:,} bytes instead of "
        f"{report['bytes_float']:,}. Scored on the same held-out chunks "
        f"({report['held_out_chars']:,} characters, state carried): float "
        f"{report['nats_per_char_float']} nats/char, int8 {report['nats_per_char_int8']} "
        f"(cost {report['cost']:+}; the limit for shipping int8 is {report['max_cost']}). "
        "Made with `python -m training quantize write --model FLOAT.onnx --data TEXT "
        f"--out {out.name}`.",
        "",
    ]


def quantize_main(args) -> None:
    out = args.out or args.model
    report = quantize_write(args.model, args.data, out, args.max_cost, args.min_speedup)
    card = update_card(out, report)
    print(json.dumps({**report, "card": str(card) if card else None}))
