#!/usr/bin/env bash
# Trains every colour variant on the same hash split, in parallel, and prints a table of
# validation CIEDE2000. Each run's metrics.json and loss curve land in runs/color_variants/.
# Usage: bench/color_variants.sh [DATA_DIR] [EPOCHS] [RUN...]   (default data/colors, 40,
# every run; RUN names some of them). OUT sets the output folder.
# The quickest run: bench/color_variants.sh DATA_DIR 1 tutorial
set -euo pipefail
data=${1:-data/colors}
epochs=${2:-40}
only=" ${*:3} "
out=${OUT:-runs/color_variants}
all=(--data "$data/colors.csv" --data "$data/meodai_colornames.csv"
     --data "$data/colors_18606_rgb.csv" --data "$data/meodai_colornames_cb36672_18606.csv")
run() {  # name, variant, extra args...
  local name=$1 variant=$2; shift 2
  [[ "$only" == "  " || "$only" == *" $name "* ]] || return 0
  python -m training train color "${all[@]}" --variant "$variant" --epochs "$epochs" \
    --run-dir "$out/$name" --out '' "$@" >"$out/$name.log" 2>&1 || echo "$name failed" >&2
}
mkdir -p "$out"
run tutorial_colorscsv tutorial --train-only "$data/colors.csv" &
run tutorial tutorial &
run tutorial_dropout tutorial_dropout &
run embed_mask embed_mask &
run bilstm_mask bilstm_mask &
run bilstm_lab bilstm_lab &
run bilstm2_lab bilstm2_lab &
wait
python - "$out" <<'PY'
import json, pathlib, sys
print("| run | train names | epochs (best) | val CIEDE2000 mean | median | mean-colour baseline | seconds |")
print("|---|---|---|---|---|---|---|")
for path in sorted(pathlib.Path(sys.argv[1]).glob("*/metrics.json")):
    m = json.loads(path.read_text())
    print(f"| {path.parent.name} | {m['n_train']} | {m['epochs_run']} ({m['best_epoch']}) | "
          f"{m['delta_e_mean']} | {m['delta_e_median']} | {m['baseline_delta_e_mean']} | {m['training_seconds']} |")
PY
