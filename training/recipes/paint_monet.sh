#!/usr/bin/env bash
# Makes the /paint model monet.onnx (pixel LSTM 2x192 over a 64-colour palette that
# paints an 8x8 thumbnail first, then 64x64 pixels), with its weights beside it and its
# model card (bits per pixel and composition on the 32 held-out paintings).
# Two runs, grown from a painter's weights (INIT_WEIGHTS, default the shipped painter's
# exported_models/monet.weights.h5; a painter with fewer context inputs is widened, its
# new inputs starting at zero): 12 epochs, then 8 on the paintings and their mirror
# images. Time: 28.5 + 28.7 min on 2 CPU cores for the shipped model.
# Data: monet (270 paintings), fetched first; DATA_FROM=DIR copies them from a local mirror.
# Output: OUT_DIR (default exported_models/; it replaces the shipped model and card).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR="${OUT_DIR:-exported_models}"
INIT_WEIGHTS="${INIT_WEIGHTS:-exported_models/monet.weights.h5}"
mkdir -p "$OUT_DIR"

python -m training data fetch monet ${DATA_FROM:+--from "$DATA_FROM"}
P=data/paintings/monet

python -m training train paint --data "$P" --variant thumbnail --init-weights "$INIT_WEIGHTS" \
    --learning-rate 1e-3 --schedule cosine --epochs 12 --patience 3 --run-dir runs/paint_thumbnail
python -m training train paint --data "$P" --variant thumbnail --mirror \
    --init-weights runs/paint_thumbnail/best.weights.h5 --learning-rate 5e-4 --schedule cosine \
    --epochs 8 --patience 3 --run-dir runs/paint_thumbnail_mirror --out "$OUT_DIR/monet.onnx"
# Add --compare OTHER.onnx (repeatable) to score other painters on the same paintings.
python -m training card paint --model "$OUT_DIR/monet.onnx" --run-dir runs/paint_thumbnail_mirror \
    --data "$P"
