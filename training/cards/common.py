"""What every card shares: writing the file, durations, and `/write`'s samples."""

from __future__ import annotations

import json
from pathlib import Path

from bot.runtime.batching import BatcherPool
from bot.runtime.engine import InferenceEngine

SAMPLE_TEMPERATURES = (0.2, 0.5, 1.0)


def save_card(model_path: Path, lines: list[str], summary: dict) -> Path:
    """Write the card next to the model and print one JSON line saying where, with `summary`."""
    card = model_path.with_suffix(".md")
    card.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(json.dumps({"card": str(card), **summary}))
    return card


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds:,.0f} s ({seconds / 60:.1f} min)"


def sample_lines(model_path: Path, style: str, prompt: str = "") -> list[str]:
    """The card's samples, generated from the file exactly as `/write` would."""
    from bot.write.service import WriteRequest, WriteService

    engine = InferenceEngine(model_path.parent, prefer_gpu=False)
    engine.models[model_path.stem] = engine.load_file(model_path)
    pool = BatcherPool()
    service = WriteService(engine, pool)
    lines = [
        "## Samples",
        "",
        f"400 characters, seed 1, prompt {prompt!r}, from "
        f"`python -m bot write --style {style} --length 400 --seed 1 --temperature T`:",
    ]
    for temperature in SAMPLE_TEMPERATURES:
        text = service.write(WriteRequest(style, prompt, 400, temperature, seed=1)).text
        lines += ["", f"### temperature {temperature}", "", "```text", text, "```"]
    pool.close()
    return lines


def wrapped_lines(draw, text: str, font, width: int) -> list[str]:
    words, line, lines = text.split(), "", []
    for word in words:
        if draw.textlength(line + " " + word, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = (line + " " + word).strip()
    return [*lines, line]
