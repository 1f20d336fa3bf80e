"""`python -m training ... write`: a /write style's options (training, fine-tuning,
quantizing, mixing, its card and its evaluation)."""

from __future__ import annotations

from pathlib import Path

from training.cli import Kinds, finetune_kind, lm_arguments, run_and_out, training_arguments


def register(kinds: Kinds) -> None:
    p = kinds.add(
        "train",
        "write",
        "training.write:train_write",
        help="character language model of a writing style",
    )
    p.add_argument(
        "--data", type=Path, action="append", required=True, help="UTF-8 text file (repeatable)"
    )
    p.add_argument("--style", required=True, help="style name shown to users, e.g. shakespeare")
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument(
        "--val-chunk",
        type=int,
        default=10_000,
        help="validation holds out whole chunks of this many characters",
    )
    p.add_argument("--val-every", type=int, default=10, help="every Nth chunk is validation")
    lm_arguments(p, units=256, batch_size=64)

    p = finetune_kind(
        kinds,
        "write",
        "a new /write style from a trained one",
        "training.finetune:finetune_write",
        base="the base: an exported .onnx (with or without its .weights.h5) or a run directory",
        data="UTF-8 text file (repeatable)",
    )
    p.add_argument("--style", required=True, help="the new style's name, e.g. lore")
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--val-chunk", type=int, default=2_000, help="held-out chunk length")
    p.add_argument("--val-every", type=int, default=10, help="every Nth chunk is validation")
    training_arguments(p, 32, learning_rate=5e-4, dropout=0.3)
    p.set_defaults(patience=3, epochs=20)

    run_and_out(kinds.add("export", "write", "training.tokenlm.export:export_main"))

    p = kinds.add("quantize", "write", "training.quantize:quantize_main")
    p.add_argument("--model", type=Path, required=True, help="the float model")
    p.add_argument("--data", type=Path, action="append", required=True, help="its training text")
    p.add_argument("--out", type=Path, help="default: replace --model")
    p.add_argument("--max-cost", type=float, default=0.002, help="nats/char allowed (0.002)")
    p.add_argument(
        "--min-speedup", type=float, help="write int8 only if this much faster at batch 1 and 32"
    )

    p = kinds.add("ensemble", "write", "training.tokenlm.ensemble:main")
    p.add_argument(
        "--member", type=Path, action="append", required=True, help="an exported style (2+)"
    )
    p.add_argument("--data", type=Path, action="append", required=True, help="its training text")
    p.add_argument("--out", type=Path, required=True, help="may be one of the members")
    p.add_argument(
        "--weight",
        type=float,
        action="append",
        help="one per member (default: fitted on the held-out chunks)",
    )

    p = kinds.add("card", "write", "training.cards.write:write_card_main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--run-dir", type=Path, help="its training run (not for an ensemble)")
    p.add_argument("--data", type=Path, action="append", required=True)
    p.add_argument("--prompt", default="")
    p.add_argument("--note", default="", help="a sentence to add under Training")

    p = kinds.add("evaluate", "write", "training.tokenlm.evaluate:main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, action="append", required=True)
    p.add_argument(
        "--held-out",
        action="store_true",
        help="score only the chunks the model's training held out (from its metadata)",
    )
    p.add_argument(
        "--streams",
        type=int,
        default=64,
        help="the text is scored as this many parallel streams (speed only)",
    )
