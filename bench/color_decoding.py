"""How far decoding can move the shipped colour model on its two targets at once.

The targets ask for CIEDE2000 mean <= 16 and a chroma ratio >= 0.95 on the held-out
names. This prints, for the 3,432 names the model never saw, the answer read off its
distribution several ways beside two controls:

- the mean colour (knows nothing about the name);
- a word table: the colours of the training names that share a word with the name,
  weighted by how rare the word is (knows words, not characters);
- the mean of the distribution, the shipped sharpened mean, and the Bayes answer for the
  metric itself: the colour that minimises the expected CIEDE2000 under the model's
  distribution (candidates: the bins, then 4,000 training colours).

If even the metric's own best answer is greyer than the mean, no decoder reaches both
targets with this model: the remaining error is what the model does not know.

Usage: python bench/color_decoding.py [--model exported_models/color.onnx]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.color.bins import SHARPEN  # noqa: E402
from bot.color.service import ColorModel  # noqa: E402
from bot.runtime.engine import InferenceEngine  # noqa: E402
from training.color.data import ColorTable, load_colors, split  # noqa: E402
from training.color.evaluate import bin_probabilities  # noqa: E402
from training.color.metrics import color_metrics  # noqa: E402
from training.colorspace import ciede2000, srgb_to_lab  # noqa: E402

LISTS = ["colors.csv", "meodai_colornames.csv", "colors_18606_rgb.csv",
         "meodai_colornames_cb36672_18606.csv"]  # fmt: skip


def word_table(train_names: list[str], train_rgb: np.ndarray, names: list[str]) -> np.ndarray:
    """The control: idf-weighted mean colour of the training names sharing each word."""
    rows = defaultdict(list)
    for i, name in enumerate(train_names):
        for word in set(name.split()):
            rows[word].append(i)
    rgb = train_rgb / 255
    out = np.tile(rgb.mean(axis=0), (len(names), 1))
    for n, name in enumerate(names):
        words = [w for w in set(name.split()) if w in rows]
        if words:
            means = [rgb[rows[w]].mean(axis=0) for w in words]
            out[n] = np.average(means, axis=0, weights=[1 / len(rows[w]) for w in words])
    return out


def bayes_answers(probabilities: np.ndarray, bins_lab: np.ndarray, cand_rgb: np.ndarray):
    """For each row, the candidate with the least expected CIEDE2000 to the bins."""
    cand_lab = srgb_to_lab(cand_rgb)
    cost = ciede2000(cand_lab[:, None], bins_lab[None])  # (candidates, bins)
    return cand_rgb[(probabilities @ cost.T).argmin(axis=1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "exported_models/color.onnx")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data/colors")
    parser.add_argument("--smoke", action="store_true", help="the quickest run: 500 held-out names")
    args = parser.parse_args()

    train, val = split(load_colors([args.data_dir / f for f in LISTS]), 0.1)
    if args.smoke:
        val = ColorTable(val.names[:500], val.rgb[:500])
    model = ColorModel(InferenceEngine(args.model.parent, prefer_gpu=False).load_file(args.model))
    p = bin_probabilities(model, val.names).astype(np.float64)
    mean_rgb = np.asarray(model.model.metadata.extra["mean_rgb"])  # as the card's baseline
    rng = np.random.default_rng(0)
    colours = np.unique(train.rgb, axis=0)
    candidates = colours[rng.choice(len(colours), min(4000, len(colours)), replace=False)] / 255
    bins = model.bins
    rows = {
        "mean colour (control)": np.tile(mean_rgb, (len(val), 1)),
        "word table (control)": word_table(train.names, train.rgb, val.names),
        "mean of the distribution": bins.answers(p, 1.0),
        f"mean to the power {SHARPEN:g} (shipped)": bins.answers(p),
        "least expected CIEDE2000, over the bins": bayes_answers(p, bins.lab, bins.rgb),
        "least expected CIEDE2000, over 4,000 colours": bayes_answers(p, bins.lab, candidates),
    }
    print(f"{len(val):,} held-out names; targets: CIEDE2000 mean <= 16 and chroma ratio >= 0.95")
    print(f"{'answer':48} {'mean':>6} {'median':>7} {'chroma':>7} {'L spread':>9}")
    for label, rgb in rows.items():
        m = color_metrics(val.rgb, rgb, mean_rgb)
        print(
            f"{label:48} {m['delta_e_mean']:6.2f} {m['delta_e_median']:7.2f} "
            f"{m['chroma_ratio']:7.3f} {m['lightness_spread_ratio']:9.3f}"
        )


if __name__ == "__main__":
    main()
