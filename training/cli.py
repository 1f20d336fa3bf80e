"""What every model kind's command line shares: the action groups (`train KIND`,
`evaluate KIND`, ...), lazy handlers, and the options of fitting a language model.
Each kind declares its own options in its `cli` module; `__main__` only assembles them."""

from __future__ import annotations

import argparse
from pathlib import Path

# Action -> its help; each kind adds its subcommands to the actions it supports.
ACTIONS = {
    "train": "train a model and export it to ONNX",
    "finetune": "teach a trained model new data, starting from its weights",
    "export": "export a training run's best weights to ONNX",
    "quantize": "int8 weights, if held-out loss allows",
    "ensemble": "one file answering with the mixture of several models' predictions",
    "card": "write a model card next to an exported model",
    "evaluate": "score an exported ONNX model on data",
}


class Kinds:
    """The `KIND` subparsers of each action, made once."""

    def __init__(self, actions) -> None:
        self._groups = {
            name: actions.add_parser(name, help=text).add_subparsers(dest="kind", required=True)
            for name, text in ACTIONS.items()
        }

    def add(self, action: str, kind: str, target: str, **kwargs) -> argparse.ArgumentParser:
        """`python -m training ACTION KIND`, run by `target` ('module:function')."""
        return handler(self._groups[action].add_parser(kind, **kwargs), target)


def handler(parser: argparse.ArgumentParser, target: str) -> argparse.ArgumentParser:
    """Name the function as 'module:function', imported only when run (TensorFlow is slow)."""
    parser.set_defaults(handler=target)
    return parser


def lm_arguments(
    p: argparse.ArgumentParser, units: int, batch_size: int, exported: bool = True
) -> None:
    """Options shared by every language-model task (write, caption, paint, name);
    `exported` models (all but the image decoder's starting point) also sample and export."""
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--units", type=int, default=units)
    p.add_argument("--embedding", type=int, default=64)
    training_arguments(p, batch_size, exported)


def training_arguments(
    p: argparse.ArgumentParser,
    batch_size: int,
    exported: bool = True,
    learning_rate: float = 2e-3,
    dropout: float = 0.2,
) -> None:
    """How a language model is fitted, whatever its shape (new, or fine-tuned)."""
    p.add_argument("--dropout", type=float, default=dropout)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--learning-rate", type=float, default=learning_rate)
    p.add_argument(
        "--schedule",
        choices=("constant", "cosine"),
        default="constant",
        help="learning rate: constant, or cosine decay to zero over --epochs",
    )
    p.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decay (0: Adam)")
    p.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="validate and keep a moving average of the weights with this momentum (0: off)",
    )
    p.add_argument(
        "--init-weights",
        type=Path,
        help="start from these weights (best.weights.h5 or an exported *.weights.h5; "
        "same configuration)",
    )
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=4, help="early-stopping patience (epochs)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    if exported:
        p.add_argument(
            "--sample-length",
            type=int,
            default=200,
            help="tokens sampled after each epoch (0: none)",
        )
        p.add_argument("--out", type=Path, help="ONNX file to export to when training ends")


def finetune_kind(
    kinds: Kinds, name: str, summary: str, target: str, base: str, data: str
) -> argparse.ArgumentParser:
    """One `finetune KIND`: every kind starts `--from` a base and learns `--data`."""
    p = kinds.add("finetune", name, target, help=summary)
    p.add_argument("--from", dest="base", type=Path, required=True, help=base)
    p.add_argument("--data", type=Path, action="append", required=True, help=data)
    return p


def run_and_out(p: argparse.ArgumentParser) -> None:
    """`export KIND`: a run directory's best weights into an ONNX file."""
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
