#!/usr/bin/env bash
# Retrains every shipped model on one GPU with one command (`recipe gpu`): wider /write
# styles, a wider painter trained longer, a wider colour model, the /name model and the
# caption decoder's concept LM, within MINUTES of wall time (default 9) that a first
# measuring pass splits between them. Bring the output back, then on any machine (CPU):
#   python -m training recipe ship --from OUT_DIR    (replaces only the better models)
# Backend: KERAS_BACKEND (default here jax; TensorFlow is not needed to train).
# Data: the text, painting, colour and caption sets, fetched first; DATA_FROM=DIR copies
#   them from a local mirror; NO_FETCH=1 skips this (data/ carried to a machine offline).
# Output: OUT_DIR (default runs/recipe_gpu): NAME.weights.h5 and recipe.json, at most 8
#   files of 16 MiB (64 MiB in all). WHEELS=DIR first installs the wheels in DIR (keras
#   and what it lacks, for a machine without a registry; see device_gpu_run.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT_DIR="${OUT_DIR:-runs/recipe_gpu}"
export KERAS_BACKEND="${KERAS_BACKEND:-jax}"

if [ -n "${WHEELS:-}" ]; then
    python -m pip install -q --no-index --no-deps --target /tmp/recipe-site "$WHEELS"/*.whl
    export PYTHONPATH="/tmp/recipe-site${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ -z "${NO_FETCH:-}" ]; then
    python -m training data fetch shakespeare nietzsche monet colors meodai-colors \
        meodai-colors-18606 flickr8k-captions flickr8k-images ${DATA_FROM:+--from "$DATA_FROM"}
fi
python -m training recipe gpu --minutes "${MINUTES:-9}" --out "$OUT_DIR"
