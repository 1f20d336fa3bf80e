"""The colour distribution model: bins, targets, decoding into an answer and alternatives."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from bot.color.bins import DISTINCT, MIN_MASS, RADIUS, SHARPEN, ColorBins, Peak
from bot.color.lab import srgb_to_lab
from training.color.bins import fit_bins, soft_targets

# Two greens close together, a brown and a yellow far from them and from each other.
HEXES = ["#147828", "#17792b", "#503c1e", "#c8c828"]


def test_the_answer_leans_to_the_likely_colours_and_alternatives_are_distinct():
    bins = ColorBins(HEXES)
    p = np.array([0.05, 0.05, 0.1, 0.8])  # mostly yellow; some brown; a little green
    peaks = bins.peaks(p)
    sharp = (p / p.max()) ** SHARPEN
    assert np.allclose(peaks[0].rgb, sharp @ bins.rgb / sharp.sum())
    # Sharpening pulls the answer toward the yellow more than the plain mean does.
    plain = bins.answers(p[None], sharpen=1.0)[0]
    yellow = bins.rgb[3]
    assert np.abs(peaks[0].rgb - yellow).sum() < np.abs(plain - yellow).sum()
    assert np.allclose(bins.answers(p[None], sharpen=np.inf)[0], yellow)
    # The brown (0.1) and the two greens together (0.1) are far from it and each other.
    assert len(peaks) == 3 and np.allclose(peaks[1].rgb, bins.rgb[2])
    assert np.allclose(peaks[2].rgb, (bins.rgb[0] + bins.rgb[1]) / 2)
    assert peaks[2].mass == pytest.approx(0.1)


def test_a_sure_model_gives_no_alternatives():
    bins = ColorBins(HEXES)
    assert len(bins.peaks(np.array([0.02, 0.02, 0.01, 0.95]))) == 1
    answers = bins.answers(np.array([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 0.0]]))
    assert np.allclose(answers, bins.rgb[[3, 2]])


def reference_peaks(bins: ColorBins, p: np.ndarray, count: int) -> list[Peak]:
    """The module doc's decoding written plainly: bins likeliest first, each kept when
    far enough from every peak so far and heavy enough around itself."""
    p = np.asarray(p, np.float64)
    answer = bins.answers(p[None])[0]
    taken = [srgb_to_lab(answer)]
    found = [Peak(answer, 1.0)]
    for b in np.argsort(-p):
        if len(found) == count or p[b] < MIN_MASS / 20:
            break
        if min(np.linalg.norm(bins.lab[b] - lab) for lab in taken) < DISTINCT:
            continue
        near = bins.distance[b] < RADIUS
        mass = float(p[near].sum())
        if mass >= MIN_MASS:
            found.append(Peak(p[near] @ bins.rgb[near] / mass, mass))
            taken.append(bins.lab[b])
    return found


@pytest.mark.parametrize("n_bins", [4, 65, 256])
def test_peaks_match_the_plain_decoding_exactly(n_bins):
    rng = np.random.default_rng(n_bins)
    bins = ColorBins(["#{:02x}{:02x}{:02x}".format(*c) for c in rng.integers(0, 256, (n_bins, 3))])
    cases = []
    for concentration in (0.05, 0.3, 1.0):
        cases += list(rng.dirichlet(np.full(n_bins, concentration), 60))
    cases += [np.round(p, 2) for p in rng.dirichlet(np.full(n_bins, 0.3), 30)]  # ties
    for _ in range(30):  # equal peaks: their order is argsort's, ties and all
        cases.append(np.zeros(n_bins))
        cases[-1][rng.choice(n_bins, min(n_bins, 4), replace=False)] = 0.25
    cases += [p.astype(np.float32) for p in rng.dirichlet(np.full(n_bins, 0.2), 30)]
    cases.append(np.full(n_bins, 1 / n_bins))
    sizes = set()
    for p in cases:
        for count in (1, 3, 5):
            got, want = bins.peaks(p, count), reference_peaks(bins, p, count)
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                assert np.array_equal(g.rgb, w.rgb) and g.mass == w.mass
            sizes.add(len(want))
    assert {1, 2, 3} <= sizes  # none, one and two alternatives all occur


def test_bins_are_real_training_colours_and_targets_sit_on_the_nearest():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (500, 3)).astype(np.uint8)
    hexes = fit_bins(rgb, 20)
    assert 10 <= len(hexes) <= 20
    seen = {"#{:02x}{:02x}{:02x}".format(*c) for c in rgb}
    assert set(hexes) <= seen
    bins = ColorBins(hexes)
    targets = soft_targets(rgb[:50], bins.rgb)
    assert np.allclose(targets.sum(axis=1), 1)
    lab, centres = srgb_to_lab(rgb[:50] / 255), srgb_to_lab(bins.rgb)
    nearest = ((lab[:, None] - centres[None]) ** 2).sum(-1).argmin(axis=1)
    assert (targets.argmax(axis=1) == nearest).all()


def test_a_bins_model_trains_exports_and_answers_with_alternatives(color_csv, tmp_path):
    from bot.color.service import ColorService
    from bot.runtime.engine import InferenceEngine
    from training.color.train import train_color

    args = argparse.Namespace(
        data=[color_csv],
        train_only=[],
        variant="tiny_bins",
        epochs=3,
        batch_size=8,
        patience=2,
        val_fraction=0.25,
        seed=1,
        run_dir=tmp_path / "run",
        out=tmp_path / "color.onnx",
        verbose=False,
    )
    metrics = train_color(args)
    assert {"chroma_ratio", "lightness_spread_ratio", "delta_e_mean"} <= set(metrics)
    engine = InferenceEngine(tmp_path, prefer_gpu=False)
    engine.load_all()
    assert engine.failures == {}
    model = engine.get("color", "color")
    assert len(model.metadata.extra["bins"]) >= 2
    out = model.run({"chars": np.ones((2, 32), np.int32)})["bins"]
    assert np.allclose(out.sum(axis=1), 1, atol=1e-5)
    service = ColorService(engine)
    result = service.color("zzqx blorp", model_only=True)
    assert result.source == "model" and len(result.alternatives) <= 2
    assert service.render(result)[:4] == b"\x89PNG"


def test_rescore_writes_the_metrics_users_get(color_csv, tmp_path):
    from bot.runtime.engine import InferenceEngine
    from training.__main__ import main as training_main
    from training.color.evaluate import evaluate_color
    from training.color.train import train_color

    args = argparse.Namespace(
        data=[color_csv], train_only=[], variant="tiny_bins", epochs=1, batch_size=8,
        patience=2, val_fraction=0.1, seed=1, run_dir=tmp_path / "run",
        out=tmp_path / "old.onnx", verbose=False,
    )  # fmt: skip
    train_color(args)
    argv = ["export", "color", "--weights-from", str(tmp_path / "old.onnx")]
    argv += ["--out", str(tmp_path / "color.onnx"), "--rescore", str(color_csv)]
    assert training_main(argv) == 0
    meta = InferenceEngine(tmp_path, prefer_gpu=False).load_file(tmp_path / "color.onnx").metadata
    expected = evaluate_color(tmp_path / "color.onnx", [color_csv], val_fraction=0.1)
    assert meta.metrics["delta_e_mean"] == expected["delta_e_mean"]
    assert meta.metrics["chroma_ratio"] == expected["chroma_ratio"]
    assert meta.extra["decoding"]["sharpen"] == SHARPEN
