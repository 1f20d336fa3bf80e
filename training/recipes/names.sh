#!/usr/bin/env bash
# Makes the /name model, names.onnx (LSTM 2x256 that reads the colour at every step and
# invents names for it), its evaluation (does the colour matter, words of the lists, the
# round trip through /color) and its model card (names.md beside it).
# Time: the shipped model ran 15 epochs, 23 min on 2 CPU cores (stopped by hand during
#   the 16th; this recipe runs up to 30 epochs, early stopping with patience 3).
# Data: the four colour lists (the colour model's split), fetched first; DATA_FROM=DIR
#   copies them from a local mirror laid out like data/.
#   A download of meodai-colors gets the source's full list, not the shipped model's
#   subset (docs/data.md, "Subsets"): copy it from the mirror to compare with that model.
# Needs: a colour model for the round trip, COLOR_MODEL (default exported_models/color.onnx).
# Output: OUT_DIR (default exported_models/; it replaces the shipped model and card).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR="${OUT_DIR:-exported_models}"
COLOR_MODEL="${COLOR_MODEL:-exported_models/color.onnx}"
mkdir -p "$OUT_DIR"

python -m training data fetch colors meodai-colors meodai-colors-18606 \
    ${DATA_FROM:+--from "$DATA_FROM"}

D=data/colors
LISTS=(--data "$D/colors.csv" --data "$D/meodai_colornames.csv" --data "$D/colors_18606_rgb.csv"
    --data "$D/meodai_colornames_cb36672_18606.csv")

python -m training train name "${LISTS[@]}" --embedding 32 --units 256 --dropout 0.2 \
    --batch-size 128 --epochs 30 --patience 3 --run-dir runs/names --out "$OUT_DIR/names.onnx"
python -m training evaluate name --model "$OUT_DIR/names.onnx" --color-model "$COLOR_MODEL" \
    "${LISTS[@]}"
python -m training card name --model "$OUT_DIR/names.onnx" --color-model "$COLOR_MODEL" \
    --run-dir runs/names "${LISTS[@]}"
