"""The one-shot CLI and the console front end."""

import io
import json
import subprocess
import sys

from PIL import Image

from bot.console import Console


def run_bot(model_dir, *args):
    return subprocess.run(
        [sys.executable, "-m", "bot", "--model-dir", str(model_dir), "--cpu", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_one_shot_color_json(model_dir, tmp_path):
    out = tmp_path / "swatch.png"
    done = run_bot(model_dir, "color", "forest", "--json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout.strip().splitlines()[-1])
    assert payload["rgb"] == [34, 139, 34] and payload["hex"] == "#228b22"
    assert payload["source"] == "known" and payload["image"] == str(out)
    assert Image.open(out).size == (512, 256)

    done = run_bot(model_dir, "color", "forest", "--model-only", "--json", "--out", str(out))
    assert json.loads(done.stdout)["source"] == "model"


def test_one_shot_bad_input_is_an_error_not_a_traceback(model_dir):
    done = run_bot(model_dir, "color", "", "--json")
    assert done.returncode == 2
    assert "error" in json.loads(done.stdout)
    assert "Traceback" not in done.stderr


def test_console_session(services, tmp_path):
    console = Console(services, tmp_path)
    stdout = io.StringIO()
    console.loop(io.StringIO("/color forest\n/color\n/nope\n/models\n/quit\n"), stdout)
    text = stdout.getvalue()
    assert "forest: #228b22" in text and "\x1b[48;2;34;139;34m" in text
    assert "swatch: " + str(tmp_path / "color-forest.png") in text
    assert "error: Give a colour name" in text
    assert "Unknown command '/nope'" in text
    assert "color: color" in text
