"""`python -m training ... name`: the /name model's options."""

from __future__ import annotations

from pathlib import Path

from training.cli import Kinds, lm_arguments, run_and_out


def register(kinds: Kinds) -> None:
    p = kinds.add(
        "train",
        "name",
        "training.name.train:train_name",
        help="colour -> invented colour name (the inverse of color)",
    )
    p.add_argument("--data", type=Path, action="append", required=True, help="colour CSV files")
    p.add_argument("--val-fraction", type=float, default=0.1, help="the colour model's split")
    lm_arguments(p, units=256, batch_size=128, exported=False)
    p.add_argument("--out", type=Path, help="ONNX file to export to when training ends")

    run_and_out(kinds.add("export", "name", "training.name.train:export_main"))

    p = kinds.add("card", "name", "training.cards.name:name_card_main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--color-model", type=Path, required=True)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--data", type=Path, action="append", required=True, help="the colour lists")

    p = kinds.add("evaluate", "name", "training.name.evaluate:main")
    p.add_argument("--model", type=Path, required=True, help="the names model")
    p.add_argument("--color-model", type=Path, required=True, help="for the round trip")
    p.add_argument("--data", type=Path, action="append", required=True, help="the colour lists")
    p.add_argument("--colors", type=int, default=200, help="held-out colours to name")
