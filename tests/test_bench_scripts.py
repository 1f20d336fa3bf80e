"""Every benchmark script runs in its quickest mode, as a user would start it, so that
none of them rots unnoticed. What each prints is checked for its headline, not its
figures: speed belongs to the benchmarks, never to a test."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
COLOR_LISTS = (
    "colors.csv",
    "meodai_colornames.csv",
    "colors_18606_rgb.csv",
    "meodai_colornames_cb36672_18606.csv",
)


@pytest.fixture(scope="module")
def color_lists(tmp_path_factory) -> Path:
    """The four colour lists the colour benchmarks read, small: invented two-word names."""
    folder = tmp_path_factory.mktemp("colors")
    rng = np.random.default_rng(0)
    words = ["deep", "pale", "sea", "moss", "fire", "dusk", "salt", "plum", "iron", "rose"]
    for index, name in enumerate(COLOR_LISTS):
        rows = ["name,red,green,blue"]
        for n in range(150):
            first, second = rng.choice(words, 2, replace=False)
            red, green, blue = rng.integers(0, 256, 3)
            rows.append(f"{first} {second} {index}{n},{red},{green},{blue}")
        (folder / name).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def run(*argv: str, timeout: int = 300, env: dict | None = None) -> str:
    environment = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        argv,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**environment, **(env or {})},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


@pytest.mark.parametrize(
    ("script", "headline"),
    [
        ("serving.py", "floor"),
        ("paint_speed.py", "ratio tutorial/step"),
        ("write_speed.py", "ratio tutorial/step"),
        ("ack_burst.py", "| beside the bot |"),
        ("pairs.py", "outside it"),
    ],
)
def test_a_serving_benchmark_runs_in_its_quickest_mode(script, headline):
    assert headline in run(sys.executable, str(BENCH / script), "--smoke")


def test_the_colour_decoding_benchmark_runs_in_its_quickest_mode(color_lists):
    out = run(
        sys.executable, str(BENCH / "color_decoding.py"), "--smoke", "--data-dir", str(color_lists)
    )
    assert "mean colour (control)" in out and "least expected CIEDE2000" in out


def test_the_colour_refit_benchmark_runs_in_its_quickest_mode(color_lists, tmp_path):
    argv = ["--smoke", "--data", str(color_lists / "colors.csv"), "--run-dir", str(tmp_path)]
    assert "dE mean" in run(sys.executable, str(BENCH / "color_refit.py"), *argv)


def test_the_colour_variants_benchmark_runs_in_its_quickest_mode(color_lists, tmp_path):
    out = run("bash", str(BENCH / "color_variants.sh"), str(color_lists), "1", "tutorial",
              env={"OUT": str(tmp_path)})  # fmt: skip
    assert "| tutorial |" in out
