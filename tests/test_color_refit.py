"""`finetune color`: refit a colour model on an admin's own name,hex list."""

import argparse

import numpy as np
import pytest

from bot.color.service import ColorService
from bot.render import parse_hex
from bot.runtime.engine import InferenceEngine
from training.__main__ import main as training_main
from training.colorspace import delta_e

PURPLE = (128, 0, 255)


def admin_list(path, count=120):
    """Invented names the base never saw, with a character it lacks ("ø"), all purple."""
    rng = np.random.default_rng(0)
    lines = ["name,hex"]
    for i in range(count):
        r, g, b = (np.clip(np.array(PURPLE) + rng.integers(-12, 13, 3), 0, 255)).tolist()
        lines.append(f"zøg {i},#{r:02x}{g:02x}{b:02x}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def base(color_csv, tmp_path_factory):
    from training.color.train import train_color

    folder = tmp_path_factory.mktemp("base")
    args = argparse.Namespace(
        data=[color_csv], train_only=[], variant="tiny_bins", epochs=3, batch_size=8,
        patience=2, val_fraction=0.25, seed=1, run_dir=folder / "run",
        out=folder / "color.onnx", verbose=False,
    )  # fmt: skip
    train_color(args)
    return folder / "color.onnx"


def refit(base, data, tmp_path, *extra: str) -> int:
    argv = ["finetune", "color", "--from", str(base), "--data", str(data)]
    argv += ["--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "models" / "color.onnx")]
    argv += ["--learning-rate", "1e-2", "--batch-size", "8", "--epochs", "25", *extra]
    return training_main(argv)


def test_a_refit_learns_the_list_and_keeps_the_base(base, tmp_path):
    (tmp_path / "models").mkdir()
    data = admin_list(tmp_path / "mine.csv")
    assert refit(base, data, tmp_path) == 0

    engine = InferenceEngine(tmp_path / "models", prefer_gpu=False)
    engine.load_all()
    assert engine.failures == {}
    old = InferenceEngine(base.parent, prefer_gpu=False).load_file(base).metadata
    meta = engine.get("color", "color").metadata
    assert meta.vocabulary[: len(old.vocabulary)] == old.vocabulary  # old ids keep their rows
    new = meta.vocabulary[len(old.vocabulary) :]
    assert "ø" in new and new == meta.extra["new_characters"]
    assert meta.extra["base_model"]["source"] == str(base)
    assert (
        meta.data_sources[-1]["file"] == "mine.csv" and len(meta.data_sources[-1]["sha256"]) == 64
    )
    assert meta.metrics["delta_e_mean"] < meta.metrics["base_on_held_out"]["delta_e_mean"]

    service = ColorService(engine)
    assert service.color("zøg 7").source == "known"  # the list's names are answered exactly
    assert service.color("red").source == "known"  # and the base's still are
    unseen = service.color("zøg 5000", model_only=True)  # a name in neither
    assert unseen.source == "model"
    assert delta_e(np.array([PURPLE]) / 255, np.array([parse_hex(unseen.hex)]) / 255)[0] < 25


def test_a_list_too_short_to_hold_names_out_is_refused(base, tmp_path, capsys):
    (tmp_path / "models").mkdir()
    data = admin_list(tmp_path / "short.csv", count=30)
    assert refit(base, data, tmp_path) != 0
    assert "hold out only" in capsys.readouterr().err
    assert not (tmp_path / "models" / "color.onnx").exists()
