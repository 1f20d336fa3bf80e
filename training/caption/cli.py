"""`python -m training ... caption`: the caption models' options (the caption language
model, the concept decoder and the image encoder)."""

from __future__ import annotations

from pathlib import Path

from training.cli import Kinds, finetune_kind, lm_arguments, run_and_out, training_arguments


def register(kinds: Kinds) -> None:
    p = kinds.add(
        "train",
        "caption",
        "training.caption.train:train_caption",
        help="caption language model (start/end tokens)",
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
    lm_arguments(p, units=256, batch_size=128)

    p = kinds.add(
        "train",
        "caption-concepts",
        "training.caption.concept_lm:train_caption_concepts",
        help="caption language model that reads concepts (image decoder)",
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
    lm_arguments(p, units=256, batch_size=256, exported=False)

    p = kinds.add(
        "train",
        "caption-image",
        "training.caption.image_train:train_caption_image",
        help="image encoder for a caption model",
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

    p = finetune_kind(
        kinds,
        "caption",
        "a new caption style from the caption model",
        "training.finetune:finetune_caption",
        base="the base: an exported caption model (captions.onnx) or its run directory",
        data="one caption per line, image,caption CSV or COCO JSON (repeatable)",
    )
    p.add_argument("--val-fraction", type=float, default=0.1, help="share held out")
    training_arguments(p, 64, learning_rate=5e-4, dropout=0.2)
    p.set_defaults(patience=3, epochs=20)

    run_and_out(kinds.add("export", "caption", "training.tokenlm.export:export_main"))

    p = kinds.add("card", "caption", "training.cards.caption:caption_card_main")
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

    p = kinds.add("evaluate", "caption", "training.caption.evaluate:main")
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
