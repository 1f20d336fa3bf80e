"""The one-shot CLI and the console front end."""

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from bot.console.loop import Console


def run_bot(model_dir, *args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "bot", "--model-dir", str(model_dir), "--cpu", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
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
    assert "forest: #228b22" in text and "\x1b[" not in text  # not a terminal: no colour codes
    assert "swatch: " + str(tmp_path / "color-forest.png") in text
    assert "error: Give a colour name" in text
    assert "Unknown command '/nope'" in text
    assert "color (color): data colors.csv" in text and "delta_e_mean" in text


def test_console_colour_only_for_terminals(services, tmp_path, monkeypatch):
    coloured = io.StringIO()
    Console(services, tmp_path, colour=True).loop(io.StringIO("/color forest\n"), coloured)
    assert "\x1b[48;2;34;139;34m" in coloured.getvalue()

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("NO_COLOR", "1")
    plain = Terminal()
    Console(services, tmp_path).loop(io.StringIO("/color forest\n"), plain)
    assert "\x1b[" not in plain.getvalue()


def test_console_help_shows_ranges_defaults_and_styles(services, tmp_path):
    stdout = io.StringIO()
    Console(services, tmp_path).loop(io.StringIO("/write --help\n/help\n"), stdout)
    text = stdout.getvalue()
    assert "50 to 1500" in text and "default: 400" in text and "a loaded style: tiny" in text
    assert "On Discord only: /reload" in text


def test_cli_argument_errors_and_bad_out_are_clear(model_dir, tmp_path):
    done = run_bot(model_dir, "write", "--length", "abc", "--json")
    assert done.returncode == 2 and "invalid int value" in json.loads(done.stdout)["error"]
    assert "Traceback" not in done.stderr
    for out, message in [
        (tmp_path / "no" / "x.png", "does not exist"),
        (tmp_path / "x.jpg", "must end in .png"),
        (tmp_path, "is a folder"),
    ]:
        done = run_bot(model_dir, "color", "forest", "--out", str(out), "--json")
        assert done.returncode == 2 and message in json.loads(done.stdout)["error"]
    assert not (tmp_path / "no").exists()  # no folder made silently


def test_model_only_does_not_overwrite_the_known_swatch(model_dir, tmp_path):
    env_dir = tmp_path / "out"
    known = run_bot(model_dir, "color", "forest", "--json", env={"RNNBOT_OUTPUT_DIR": str(env_dir)})
    model = run_bot(
        model_dir,
        "color",
        "forest",
        "--model-only",
        "--json",
        env={"RNNBOT_OUTPUT_DIR": str(env_dir)},
    )
    paths = {json.loads(known.stdout)["image"], json.loads(model.stdout)["image"]}
    assert len(paths) == 2 and all(Path(p).exists() for p in paths)


def test_models_json(model_dir):
    done = run_bot(model_dir, "models", "--json")
    payload = json.loads(done.stdout)
    names = {m["name"]: m for m in payload["models"]}
    assert names["color"]["data"] == ["colors.csv"] and names["color"]["trained"]


def interrupt_when(ready, settle: float = 0.2) -> threading.Thread:
    """Ctrl-C, as the terminal delivers it (SIGINT to this process, the main thread), once
    `ready()` holds: the command is really running, however slow the machine."""

    def wait_then_interrupt() -> None:
        deadline = time.monotonic() + 30
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(settle)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=wait_then_interrupt, daemon=True)
    thread.start()
    return thread


@pytest.fixture()
def held_steps(monkeypatch):
    """Step calls wait at a gate after the first few, so a generation is still running
    when Ctrl-C comes, however fast the machine; the test opens the gate when done."""
    from bot.runtime.lm import StepGraph

    gate, calls, real = threading.Event(), [], StepGraph.__call__

    def held(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 3:
            gate.wait(60)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StepGraph, "__call__", held)
    yield gate
    gate.set()


def test_ctrl_c_in_the_console_cancels_the_job_and_returns_to_the_prompt(
    services, tmp_path, held_steps
):
    console = Console(services, tmp_path)
    stdout = io.StringIO()
    timer = interrupt_when(lambda: services.pool.stats().get("tiny", {}).get("active"), 0.0)
    console.loop(io.StringIO("/write --style tiny --length 1500\n/color forest\n"), stdout)
    timer.join()
    held_steps.set()  # the batcher may step again, and finds its generation cancelled
    text = stdout.getvalue()
    assert "cancelled." in text and "forest: #228b22" in text  # back at the prompt
    deadline = time.monotonic() + 30
    while services.pool.stats()["tiny"]["active"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert services.pool.stats()["tiny"]["active"] == 0  # the generation stopped too


def test_token_without_network_is_one_clear_line(services, capsys):
    from bot.__main__ import run_on_discord
    from bot.discord_app.endpoints import use_local_discord

    use_local_discord("http://127.0.0.1:9/api/v10", "ws://127.0.0.1:9/")  # nothing listens
    assert run_on_discord(services, "not-a-real-token", sync=False) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot reach Discord")


def test_newcomer_command_lines(model_dir, tmp_path):
    """--model-dir after the subcommand, the only style as the default, errors on stderr
    without Discord's markdown escapes, and help that states each default once."""
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "tiny.onnx").write_bytes((model_dir / "tiny.onnx").read_bytes())
    late = subprocess.run(
        [sys.executable, "-m", "bot", "write", "--length", "50", "--seed", "1", "--json"]
        + ["--model-dir", str(folder), "--cpu"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert late.returncode == 0, late.stderr
    assert json.loads(late.stdout)["style"] == "tiny"  # the one style there is

    error = run_bot(model_dir, "write", "--style", "no_such*")
    assert error.returncode == 2 and error.stdout == ""
    assert error.stderr.startswith("error: ") and "'no_such*'" in error.stderr, error.stderr

    helped = run_bot(model_dir, "paint", "--help")
    assert "(default: None)" not in helped.stdout
    assert helped.stdout.count("default") == helped.stdout.count("(default")


def test_training_without_its_extras_says_how_to_install_them(tmp_path):
    """A missing `train` extra is one line naming the install command, not a traceback."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "keras.py").write_text("raise ModuleNotFoundError('no keras', name='keras')\n")
    (hide / "tensorflow.py").write_text("raise ModuleNotFoundError('no tf', name='tensorflow')\n")
    done = subprocess.run(
        [sys.executable, "-m", "training", "finetune", "write", "--from", "x.onnx"]
        + ["--data", "x.txt", "--style", "x", "--run-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(hide)},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert '.[train]"' in done.stderr


def test_the_console_streams_write_as_it_is_made(services, tmp_path):
    """The text reaches the terminal in pieces while it is made, then the closing line,
    and the whole is the text the command made (the same seed in one piece)."""
    writes = []

    class Terminal(io.StringIO):
        def write(self, text):
            writes.append(text)
            return super().write(text)

    stdout = Terminal()
    Console(services, tmp_path).loop(
        io.StringIO("/write --style tiny --length 100 --seed 7\n"), stdout
    )
    whole = Console(services, tmp_path).run("write", "--style tiny --length 100 --seed 7")
    text = whole.rsplit("\n-- ", 1)[0]
    streamed = stdout.getvalue().split("> ", 1)[1].split("\n-- tiny, seed 7", 1)[0]
    assert streamed == text
    before_the_end = writes[: next(i for i, w in enumerate(writes) if "-- tiny" in w)]
    assert len([w for w in before_the_end if w.strip()]) >= 100 // 16  # in pieces
