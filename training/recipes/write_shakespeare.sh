#!/usr/bin/env bash
# Makes one /write style, shakespeare.onnx (character LSTM 2x256 on tinyshakespeare),
# with its Keras weights beside it (what fine-tuning starts from), its model card, then
# int8 weights if they cost at most 0.002 nats/char on the held-out chunks.
# This is the single style the shipped mixture starts from; write_shakespeare_mixture.sh
# makes the shipped file from its run (runs/shakespeare).
# Time: the shipped style's base ran 42 epochs, about 470 s on an H100 (KERAS_BACKEND=jax).
#   Training runs on the backend KERAS_BACKEND names; export uses TensorFlow.
# Data: shakespeare, fetched first; DATA_FROM=DIR copies it from a local mirror.
# Output: OUT_DIR (default exported_models/; it replaces the shipped model and card).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR="${OUT_DIR:-exported_models}"
mkdir -p "$OUT_DIR"

python -m training data fetch shakespeare ${DATA_FROM:+--from "$DATA_FROM"}
TEXT=data/text/tinyshakespeare.txt

# Add --resume to continue an interrupted run.
python -m training train write --data "$TEXT" --style shakespeare \
    --units 256 --layers 2 --dropout 0.3 --epochs 60 --run-dir runs/shakespeare
KERAS_BACKEND=tensorflow python -m training export write --run-dir runs/shakespeare \
    --out "$OUT_DIR/shakespeare.onnx"
cp runs/shakespeare/best.weights.h5 "$OUT_DIR/shakespeare.weights.h5"
python -m training evaluate write --model "$OUT_DIR/shakespeare.onnx" --data "$TEXT" --held-out
python -m training card write --model "$OUT_DIR/shakespeare.onnx" --run-dir runs/shakespeare \
    --data "$TEXT"
python -m training quantize write --model "$OUT_DIR/shakespeare.onnx" --data "$TEXT" \
    || echo "int8 not written (see above): the float model stays"
