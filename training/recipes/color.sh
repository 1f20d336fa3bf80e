#!/usr/bin/env bash
# Makes the /color model, color.onnx (BiLSTM x2, softmax over 256 CIELAB bins), its
# evaluation on the held-out names and its model card (color.md beside it).
# Time: the shipped model ran 15 epochs (early stopping), 30.7 min on 2 CPU cores.
# Data: the four colour lists, fetched first (nothing is fetched when present);
#   DATA_FROM=DIR copies them from a local mirror laid out like data/.
#   A download of meodai-colors gets the source's full list, not the shipped model's
#   subset (docs/data.md, "Subsets"): copy it from the mirror to compare with that model.
# Output: OUT_DIR (default exported_models/; it replaces the shipped model and card).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR="${OUT_DIR:-exported_models}"
mkdir -p "$OUT_DIR"

python -m training data fetch colors meodai-colors meodai-colors-18606 \
    ${DATA_FROM:+--from "$DATA_FROM"}

D=data/colors
LISTS=(--data "$D/colors.csv" --data "$D/meodai_colornames.csv" --data "$D/colors_18606_rgb.csv"
    --data "$D/meodai_colornames_cb36672_18606.csv")

python -m training train color "${LISTS[@]}" --variant bilstm2_bins --epochs 40 --verbose \
    --run-dir runs/color_bins --out "$OUT_DIR/color.onnx"
python -m training evaluate color --model "$OUT_DIR/color.onnx" "${LISTS[@]}" --val-fraction 0.1
# Add --compare OLD.onnx to put the model it replaces beside it in the card.
python -m training card color --model "$OUT_DIR/color.onnx" --run-dir runs/color_bins "${LISTS[@]}"
