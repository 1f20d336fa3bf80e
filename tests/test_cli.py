"""The one-shot CLI and the console front end."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

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


def interrupt_after(seconds: float) -> threading.Timer:
    """Ctrl-C, as the terminal delivers it: SIGINT to this process (the main thread)."""
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_in_the_console_cancels_the_job_and_returns_to_the_prompt(
    services, tmp_path, slow_steps
):
    console = Console(services, tmp_path)
    stdout = io.StringIO()
    timer = interrupt_after(0.5)
    started = time.monotonic()
    console.loop(io.StringIO("/write --style tiny --length 1500\n/color forest\n"), stdout)
    timer.join()
    text = stdout.getvalue()
    assert "cancelled." in text and "forest: #228b22" in text  # back at the prompt
    assert time.monotonic() - started < 5  # 1500 slow steps would take 7.5 s
    deadline = time.monotonic() + 5
    while services.pool.stats()["tiny"]["active"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert services.pool.stats()["tiny"]["active"] == 0  # the generation stopped too
