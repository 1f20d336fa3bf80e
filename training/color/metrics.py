"""Colour regression metrics, computed the same way at training and at evaluation time."""

from __future__ import annotations

import numpy as np

from training.colorspace import delta_e, srgb_to_lab


def color_metrics(true_rgb: np.ndarray, pred: np.ndarray, mean_rgb: np.ndarray) -> dict:
    """`true_rgb` uint8 (n, 3); `pred` and `mean_rgb` in [0, 1].

    The baseline always answers the training set's mean colour, the cheapest predictor
    that knows nothing about the name; a model is only useful by how far it beats it.
    """
    target = true_rgb.astype(np.float64) / 255
    pred = np.asarray(pred, dtype=np.float64)
    de = delta_e(target, pred)
    baseline = delta_e(target, np.broadcast_to(np.asarray(mean_rgb, np.float64), target.shape))
    lab_true, lab_pred = srgb_to_lab(target), srgb_to_lab(pred)
    chroma = lambda lab: np.hypot(lab[:, 1], lab[:, 2]).mean()  # noqa: E731
    return {
        "n": int(len(target)),
        # Below 1: answers greyer than the colours (regression to the mean); near 1: vivid.
        "chroma_ratio": round(float(chroma(lab_pred) / chroma(lab_true)), 3),
        "lightness_spread_ratio": round(float(lab_pred[:, 0].std() / lab_true[:, 0].std()), 3),
        "mse": round(float(np.mean((target - pred) ** 2)), 6),
        "delta_e_mean": round(float(de.mean()), 3),
        "delta_e_median": round(float(np.median(de)), 3),
        "baseline_delta_e_mean": round(float(baseline.mean()), 3),
        "baseline_delta_e_median": round(float(np.median(baseline)), 3),
    }
