"""Command line: `python -m training {train,export,evaluate,card} KIND ...`, `... data fetch`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from bot.help_format import Parser
from training.data_fetch import add_parser as data_parser
from training.errors import UserError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _handler(parser: argparse.ArgumentParser, target: str) -> argparse.ArgumentParser:
    """Name the function as 'module:function', imported only when run (TensorFlow is slow)."""
    parser.set_defaults(handler=target)
    return parser


def _color_train_parser(sub) -> None:
    from training.color.variants import DEFAULT_VARIANT, VARIANTS

    p = _handler(
        sub.add_parser("color", help="colour name -> RGB regressor"),
        "training.color.train:train_color",
    )
    p.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="CSV with name,red,green,blue or name,hex (repeatable)",
    )
    p.add_argument(
        "--train-only",
        type=Path,
        action="append",
        default=[],
        help="train only on names from these lists (validation set unchanged)",
    )
    p.add_argument("--variant", choices=sorted(VARIANTS), default=DEFAULT_VARIANT)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--patience", type=int, default=5, help="early-stopping patience (epochs)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--run-dir",
        type=Path,
        default=Path("runs/color"),
        help="checkpoints, CSV log and loss curve",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("exported_models/color.onnx"),
        help="ONNX file to write ('' to skip export)",
    )
    p.add_argument("--verbose", action="store_true")


def _lm_arguments(
    p: argparse.ArgumentParser, units: int, batch_size: int, exported: bool = True
) -> None:
    """Options shared by every language-model task (write, caption, paint); `exported`
    models (all but the image decoder's starting point) also sample and export."""
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--units", type=int, default=units)
    p.add_argument("--embedding", type=int, default=64)
    _training_arguments(p, batch_size, exported)


def _training_arguments(
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


def _finetune_parser(actions) -> None:
    kinds = actions.add_parser(
        "finetune", help="teach a trained model new data, starting from its weights"
    ).add_subparsers(dest="kind", required=True)
    p = _finetune_kind(
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
    _training_arguments(p, 32, learning_rate=5e-4, dropout=0.3)
    p.set_defaults(patience=3, epochs=20)

    p = _finetune_kind(
        kinds,
        "caption",
        "a new caption style from the caption model",
        "training.finetune:finetune_caption",
        base="the base: an exported caption model (captions.onnx) or its run directory",
        data="one caption per line, image,caption CSV or COCO JSON (repeatable)",
    )
    p.add_argument("--val-fraction", type=float, default=0.1, help="share held out")
    _training_arguments(p, 64, learning_rate=5e-4, dropout=0.2)
    p.set_defaults(patience=3, epochs=20)

    p = _finetune_kind(
        kinds,
        "color",
        "refit a colour model on your own name,hex list",
        "training.color.finetune:finetune_color",
        base="the base: an exported colour model (its weights are read from the file)",
        data="CSV with name,hex or name,red,green,blue (repeatable)",
    )
    p.add_argument("--val-fraction", type=float, default=0.2, help="share of names held out")
    p.add_argument("--learning-rate", type=float, default=3e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=3, help="early-stopping patience (epochs)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, help="ONNX file to export to (the base is left as it is)")
    p.add_argument("--verbose", action="store_true")


def _finetune_kind(
    kinds, name: str, summary: str, handler: str, base: str, data: str
) -> argparse.ArgumentParser:
    """One `finetune KIND`: every kind starts `--from` a base and learns `--data`."""
    p = _handler(kinds.add_parser(name, help=summary), handler)
    p.add_argument("--from", dest="base", type=Path, required=True, help=base)
    p.add_argument("--data", type=Path, action="append", required=True, help=data)
    return p


def _write_train_parser(sub) -> None:
    p = _handler(
        sub.add_parser("write", help="character language model of a writing style"),
        "training.write:train_write",
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
    _lm_arguments(p, units=256, batch_size=64)


def _caption_train_parsers(sub) -> None:
    p = _handler(
        sub.add_parser("caption", help="caption language model (start/end tokens)"),
        "training.caption.train:train_caption",
    )
    p.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="COCO captions JSON, image,caption CSV or one caption per line",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of images whose captions are held out",
    )
    p.add_argument(
        "--exclude-images",
        type=Path,
        action="append",
        default=[],
        help="image,caption CSV whose images' captions are left out of training",
    )
    _lm_arguments(p, units=256, batch_size=128)

    p = _handler(
        sub.add_parser(
            "caption-concepts", help="caption language model that reads concepts (image decoder)"
        ),
        "training.caption.concept_lm:train_caption_concepts",
    )
    p.add_argument("--data", type=Path, action="append", required=True, help="caption files")
    p.add_argument(
        "--exclude-images",
        type=Path,
        action="append",
        required=True,
        help="image,caption CSV whose images' captions are left out (the photos to caption)",
    )
    p.add_argument("--concepts", type=int, default=300, help="how many concept words")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of images held out")
    _lm_arguments(p, units=256, batch_size=256, exported=False)

    p = _handler(
        sub.add_parser("caption-image", help="image encoder for a caption model"),
        "training.caption.image_train:train_caption_image",
    )
    p.add_argument(
        "--decoder-run",
        type=Path,
        required=True,
        help="run directory of the pretrained caption language model",
    )
    p.add_argument("--captions", type=Path, required=True, help="image,caption CSV")
    p.add_argument("--images", type=Path, required=True, help="directory of the images")
    p.add_argument(
        "--backbone",
        type=Path,
        default=Path("data/pretrained/mobilenet_v2_1.0_224_quant.tflite"),
        help="the pretrained MobileNetV2 .tflite (frozen; converted to ONNX on the fly)",
    )
    p.add_argument(
        "--features",
        choices=["pooled", "classes"],
        default="pooled",
        help="pooled: the 1,280 pooled activations; classes: the 1,001 ImageNet probabilities",
    )
    p.add_argument(
        "--condition",
        choices=["state", "step", "concepts"],
        default="state",
        help="state: the image sets the decoder's initial state; step: an image vector "
        "is fed with every character; concepts: predicted concept probabilities are fed "
        "with every character (--decoder-run from train caption-concepts)",
    )
    p.add_argument(
        "--concept-l2",
        type=float,
        default=0.1,
        help="L2 penalty of the concept classifier (concepts only)",
    )
    p.add_argument(
        "--head-epochs",
        type=int,
        default=0,
        help="first train the head alone (step: with the first LSTM) for up to N epochs",
    )
    p.add_argument("--head-learning-rate", type=float, default=3e-3)
    p.add_argument("--feature-dropout", type=float, default=0.3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, help="encoder ONNX file to write when training ends")
    p.add_argument(
        "--freeze-decoder",
        action="store_true",
        help="train only the head (default: fine-tune the decoder with it; it is exported "
        "beside the encoder as NAME_image_decoder.onnx)",
    )


def _name_train_parser(sub) -> None:
    p = _handler(
        sub.add_parser("name", help="colour -> invented colour name (the inverse of color)"),
        "training.name.train:train_name",
    )
    p.add_argument("--data", type=Path, action="append", required=True, help="colour CSV files")
    p.add_argument("--val-fraction", type=float, default=0.1, help="the colour model's split")
    _lm_arguments(p, units=256, batch_size=128, exported=False)
    p.add_argument("--out", type=Path, help="ONNX file to export to when training ends")


def _paint_train_parser(sub) -> None:
    p = _handler(
        sub.add_parser("paint", help="pixel-by-pixel painter over a colour palette"),
        "training.paint.train:train_paint",
    )
    p.add_argument("--data", type=Path, required=True, help="folder of images")
    p.add_argument("--size", type=int, default=64, help="paintings are size x size pixels")
    p.add_argument("--colors", type=int, default=64, help="palette size K (k-means)")
    from training.paint.variants import VARIANTS as PAINT_VARIANTS

    p.add_argument(
        "--variant",
        choices=list(PAINT_VARIANTS),
        default="above",
        help="; ".join(f"{name}: {text}" for name, (text, _) in PAINT_VARIANTS.items()),
    )
    p.add_argument(
        "--thumbnail",
        type=int,
        default=8,
        help="thumbnail grid of the variants that paint one first (G x G blocks)",
    )
    p.add_argument(
        "--mirror",
        action="store_true",
        help="train on each painting and its mirror image (the palette is fitted on the "
        "paintings as they are)",
    )
    p.add_argument(
        "--seq-len",
        type=int,
        help="training window in tokens (default: an eighth of a painting's stream, "
        "512 at 64x64, 520 with an 8x8 thumbnail; the whole stream if 8 does not divide it)",
    )
    _lm_arguments(p, units=192, batch_size=32)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m training")
    actions = parser.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train a model and export it to ONNX")
    train_kinds = train.add_subparsers(dest="kind", required=True)
    _color_train_parser(train_kinds)
    _write_train_parser(train_kinds)
    _caption_train_parsers(train_kinds)
    _paint_train_parser(train_kinds)
    _name_train_parser(train_kinds)
    _finetune_parser(actions)
    data_parser(actions)

    export = actions.add_parser("export", help="export a training run's best weights to ONNX")
    export_kinds = export.add_subparsers(dest="kind", required=True)
    for kind in ("write", "caption", "paint"):
        p = _handler(export_kinds.add_parser(kind), "training.charlm.export:export_main")
        p.add_argument("--run-dir", type=Path, required=True)
        p.add_argument("--out", type=Path, required=True)
    p = _handler(export_kinds.add_parser("name"), "training.name.train:export_main")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = _handler(
        export_kinds.add_parser("color", help="re-export a colour model with native ONNX LSTMs"),
        "training.color.export:export_main",
    )
    p.add_argument(
        "--weights-from",
        type=Path,
        required=True,
        help="exported colour model whose weights and metadata to reuse (no training)",
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--rescore",
        type=Path,
        action="append",
        default=[],
        help="the training lists: recompute the validation metrics as the bot decodes today",
    )

    quantize = actions.add_parser("quantize", help="int8 weights, if held-out loss allows")
    quantize_kinds = quantize.add_subparsers(dest="kind", required=True)
    p = _handler(quantize_kinds.add_parser("write"), "training.quantize:quantize_main")
    p.add_argument("--model", type=Path, required=True, help="the float model")
    p.add_argument("--data", type=Path, action="append", required=True, help="its training text")
    p.add_argument("--out", type=Path, help="default: replace --model")
    p.add_argument("--max-cost", type=float, default=0.002, help="nats/char allowed (0.002)")

    ensemble = actions.add_parser(
        "ensemble", help="one file answering with the mixture of several models' predictions"
    )
    ensemble_kinds = ensemble.add_subparsers(dest="kind", required=True)
    p = _handler(ensemble_kinds.add_parser("write"), "training.charlm.ensemble:main")
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

    card = actions.add_parser("card", help="write a model card next to an exported model")
    card_kinds = card.add_subparsers(dest="kind", required=True)
    p = _handler(card_kinds.add_parser("write"), "training.cards.write:write_card_main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--run-dir", type=Path, help="its training run (not for an ensemble)")
    p.add_argument("--data", type=Path, action="append", required=True)
    p.add_argument("--prompt", default="")
    p.add_argument("--note", default="", help="a sentence to add under Training")
    p = _handler(card_kinds.add_parser("color"), "training.cards.color:color_card_main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--variants-table", type=Path, help="markdown table from color_variants.sh")
    p.add_argument("--compare", type=Path, help="the colour model this one replaces")
    p.add_argument(
        "--data", type=Path, action="append", default=[], help="the training lists (--compare)"
    )

    p = _handler(card_kinds.add_parser("caption"), "training.cards.caption:caption_card_main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--encoder", type=Path, required=True)
    p.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="the training caption files (for the real-word and copy checks)",
    )
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--image-run", type=Path, required=True, help="the shipped captioner's run")
    p.add_argument("--note", default="", help="what the examples show, after the targets")
    p.add_argument(
        "--variant-run",
        type=Path,
        action="append",
        help="runs of every variant tried, for the card's table (default: --image-run)",
    )

    p = _handler(card_kinds.add_parser("name"), "training.cards.name:name_card_main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--color-model", type=Path, required=True)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--data", type=Path, action="append", required=True, help="the colour lists")

    p = _handler(card_kinds.add_parser("paint"), "training.cards.paint:paint_card_main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        help="another painter to score on the same held-out paintings (repeatable)",
    )
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--note", default="", help="how the model came to be, beyond its command")

    evaluate = actions.add_parser("evaluate", help="score an exported ONNX model on data")
    eval_kinds = evaluate.add_subparsers(dest="kind", required=True)
    p = _handler(eval_kinds.add_parser("color"), "training.color.evaluate:main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, action="append", required=True)
    p.add_argument(
        "--val-fraction",
        type=float,
        help="score only the validation names of this split (the training split: 0.1)",
    )
    p = _handler(eval_kinds.add_parser("write"), "training.charlm.evaluate:main")
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
    p = _handler(eval_kinds.add_parser("caption"), "training.caption.evaluate:main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="captions: one per line, or CSV image,caption",
    )
    p.add_argument("--images", type=Path, help="image directory: also score with the images")
    p.add_argument(
        "--encoder",
        type=Path,
        help="image encoder ONNX (default: MODEL_encoder.onnx beside the model)",
    )
    p.add_argument(
        "--held-out",
        action="store_true",
        help="score only the captions of held-out images (the training split by image)",
    )
    p.add_argument("--val-fraction", type=float, default=0.1, help="for --held-out")
    p.add_argument(
        "--retrieval-images",
        type=int,
        default=100,
        help="images in the retrieval test (each caption against all of them; chance 1/N)",
    )
    p = _handler(eval_kinds.add_parser("name"), "training.name.evaluate:main")
    p.add_argument("--model", type=Path, required=True, help="the names model")
    p.add_argument("--color-model", type=Path, required=True, help="for the round trip")
    p.add_argument("--data", type=Path, action="append", required=True, help="the colour lists")
    p.add_argument("--colors", type=int, default=200, help="held-out colours to name")
    p = _handler(eval_kinds.add_parser("paint"), "training.paint.evaluate:main")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True, help="folder of images")
    return parser


# The packages of the `train` extra (pyproject.toml), as imported.
TRAINING_EXTRAS = ("tensorflow", "keras", "tf2onnx", "onnx", "matplotlib", "pooch")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module, function = args.handler.split(":")
    try:
        getattr(importlib.import_module(module), function)(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in TRAINING_EXTRAS:
            raise
        print(
            f"error: training needs the `train` extras ({exc.name} is missing): "
            'pip install -e ".[train]"',
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
