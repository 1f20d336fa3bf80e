#!/usr/bin/env bash
# Makes captions.onnx, the caption language model /caption uses without an image
# (character LSTM 2x256 from a start token to an end token).
# Time: the shipped model ran 29 epochs, 156 s on an H100 with KERAS_BACKEND=jax.
#   Training runs on the backend KERAS_BACKEND names; export uses TensorFlow.
# Data: coco-captions and flickr8k-captions, fetched first; DATA_FROM=DIR copies them
#   from a local mirror.
# Output: OUT_DIR (default exported_models/; it replaces the shipped model). Its card is
#   written with the image captioner's (caption_image.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR="${OUT_DIR:-exported_models}"
mkdir -p "$OUT_DIR"

python -m training data fetch coco-captions flickr8k-captions ${DATA_FROM:+--from "$DATA_FROM"}
C=data/captions

python -m training train caption --data "$C/coco_captions_val2017.json" \
    --data "$C/flickr8k_captions_train.csv" --units 256 --layers 2 --dropout 0.2 \
    --batch-size 128 --epochs 40 --patience 3 --sample-length 120 --run-dir runs/captions
KERAS_BACKEND=tensorflow python -m training export caption --run-dir runs/captions \
    --out "$OUT_DIR/captions.onnx"
