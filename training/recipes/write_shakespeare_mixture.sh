#!/usr/bin/env bash
# Makes the shipped /write style shakespeare.onnx: a mixture of two int8 styles trained
# apart on the same text and split, in one single-step graph, with member 0's Keras
# weights beside it (what fine-tuning a mixture starts from) and its model card.
# Needs: the single style's run from write_shakespeare.sh (BASE_WEIGHTS, default
#   runs/shakespeare/best.weights.h5), which member 0 continues.
# Time, on 2 CPU cores: member 0 about 17 min; member 1 35 + 20 + 17 min.
# Data: shakespeare, fetched first; DATA_FROM=DIR copies it from a local mirror.
# Output: OUT_DIR (default exported_models/; it replaces the shipped model and card);
#   the members go to runs/members/.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR="${OUT_DIR:-exported_models}"
BASE_WEIGHTS="${BASE_WEIGHTS:-runs/shakespeare/best.weights.h5}"
mkdir -p "$OUT_DIR" runs/members

python -m training data fetch shakespeare ${DATA_FROM:+--from "$DATA_FROM"}
TEXT=data/text/tinyshakespeare.txt
STYLE=(--data "$TEXT" --style shakespeare --units 256 --layers 2 --dropout 0.3 --batch-size 64
    --schedule cosine --ema 0.999 --weight-decay 0.05)

# Member 0: the single style, 16 more epochs from its weights with a decaying rate,
# weight decay and weight averaging (held out 1.3301 nats/char, int8).
python -m training train write "${STYLE[@]}" --epochs 16 --patience 16 --learning-rate 1e-3 \
    --init-weights "$BASE_WEIGHTS" --run-dir runs/shakespeare_ft
KERAS_BACKEND=tensorflow python -m training export write --run-dir runs/shakespeare_ft \
    --out runs/members/shakespeare_ft_float.onnx
python -m training quantize write --model runs/members/shakespeare_ft_float.onnx --data "$TEXT" \
    --out runs/members/shakespeare_ft.onnx

# Member 1: from scratch with another seed (28 epochs, 35 min; 1.3807 held out, int8),
python -m training train write "${STYLE[@]}" --epochs 28 --patience 28 --learning-rate 2e-3 \
    --seed 2 --run-dir runs/shakespeare_b
# then 16 more epochs from its weights (20 min; 1.3575),
python -m training train write "${STYLE[@]}" --epochs 16 --patience 16 --learning-rate 1e-3 \
    --seed 4 --init-weights runs/shakespeare_b/best.weights.h5 --run-dir runs/shakespeare_b_ft
# and 14 more at a lower rate (17 min; 1.3479 held out, int8).
python -m training train write "${STYLE[@]}" --epochs 14 --patience 14 --learning-rate 7e-4 \
    --seed 5 --init-weights runs/shakespeare_b_ft/best.weights.h5 --run-dir runs/shakespeare_b_ft2
KERAS_BACKEND=tensorflow python -m training export write --run-dir runs/shakespeare_b_ft2 \
    --out runs/members/shakespeare_seed2ft2_float.onnx
python -m training quantize write --model runs/members/shakespeare_seed2ft2_float.onnx \
    --data "$TEXT" --out runs/members/shakespeare_seed2ft2.onnx

# The mixture: weights fitted on the held-out chunks; written only if it beats its best
# member (the shipped one: 1.3054 nats/char, weights 0.61 / 0.39).
python -m training ensemble write --member runs/members/shakespeare_ft.onnx \
    --member runs/members/shakespeare_seed2ft2.onnx --data "$TEXT" --out "$OUT_DIR/shakespeare.onnx"
cp runs/shakespeare_ft/best.weights.h5 "$OUT_DIR/shakespeare.weights.h5"
python -m training card write --model "$OUT_DIR/shakespeare.onnx" --data "$TEXT"
