#!/usr/bin/env bash
# `recipe gpu` on a borrowed GPU machine: JAX with CUDA and Python 3.12, but no Keras, no
# TensorFlow and no package registry (nothing is fetched there).
# 1. Here, once: `bash training/recipes/device/gpu_run.sh wheels` puts keras (the version
#    installed here) and the packages it and the project need that the machine lacks into
#    .recipe-whl/ (ignored by git), about 3 MB.
# 2. The device run carries .recipe-whl and the data (about 12 MB):
#      carry: .recipe-whl data/text data/colors data/paintings
#             data/captions/flickr8k_captions_train.csv data/captions/images/captions.csv
#      command: set -o pipefail; bash training/recipes/device/gpu_run.sh 2>&1 | tee $OUT/log.txt
#    MINUTES (default 9) is the whole run's wall time: give the command a few minutes more.
#    It writes OUT_DIR (default $OUT/recipe): NAME.weights.h5 and recipe.json, 7 files
#    and the log at most, under the 8 files / 16 MiB / 64 MiB that can come back.
# 3. Back here: python -m training recipe ship --from DIR_WITH_RECIPE_JSON
set -euo pipefail
cd "$(dirname "$0")/../../.."

if [ "${1:-}" = wheels ]; then
    grep -qx '/.recipe-whl/' .git/info/exclude 2>/dev/null || echo '/.recipe-whl/' >> .git/info/exclude
    keras_version="$(python3 -c 'import importlib.metadata as m; print(m.version("keras"))')"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .recipe-whl "keras==$keras_version" namex optree \
        jsonschema jsonschema-specifications referencing rpds-py
    ls -l .recipe-whl
    exit
fi

mkdir -p /tmp/recipe-bin  # the recipe calls `python`; the machine's is python3
ln -sf "$(command -v python3)" /tmp/recipe-bin/python
export PATH="/tmp/recipe-bin:$PATH" PYTHONUNBUFFERED=1 KERAS_BACKEND=jax
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
WHEELS=.recipe-whl NO_FETCH=1 OUT_DIR="${OUT_DIR:-$OUT/recipe}" MINUTES="${MINUTES:-9}" \
    bash training/recipes/gpu.sh
