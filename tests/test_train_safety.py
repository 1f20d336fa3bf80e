"""What keeps `/train` and the model folder safe: trained styles in their servers' own
folders, a trainer that dies with its bot, leftovers cleaned up, output of any line
length, messages without paths, a cancel that comes too late said to be so, and a model
folder holding things that are not regular files."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.contract.trained import SHIPPED, StyleScope, model_name
from bot.discord_app import training_job
from bot.discord_app.cogs.train import TrainCog
from bot.discord_app.training_job import (
    OWNER_FILE,
    TrainingJob,
    clean_up_after_killed_bots,
    stage,
    without_paths,
)
from bot.runtime.engine import InferenceEngine
from bot.write.service import WriteService


def test_a_style_is_staged_into_its_servers_folder_only(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "monet.onnx").write_bytes(b"the shipped painter")
    job = TrainingJob("monet", 42, tmp_path / "job")
    job.folder.mkdir()
    job.model.write_bytes(b"a trained style")
    job.model.with_suffix(".weights.h5").write_bytes(b"its weights")
    stage(job, models)
    assert (models / "monet.onnx").read_bytes() == b"the shipped painter"
    assert (models / "trained" / "42" / "monet.onnx").read_bytes() == b"a trained style"
    assert sorted(p.name for p in (models / "trained" / "42").iterdir()) == [
        "monet.onnx",
        "monet.weights.h5",
    ]


def test_trained_styles_are_seen_by_their_server_and_once_published(model_dir, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(model_dir / "tiny.onnx", models / "tiny.onnx")
    for guild in (1, 2):
        (models / "trained" / str(guild)).mkdir(parents=True)
        shutil.copy(model_dir / "tiny.onnx", models / "trained" / str(guild) / "tiny.onnx")
    engine = InferenceEngine(models, prefer_gpu=False)
    engine.load_all()
    assert sorted(engine.models) == ["1/tiny", "2/tiny", "tiny"]
    write = WriteService(engine, pool=None)
    # The tiny model's style is "tiny": the shipped one wins over a server's own.
    assert write.styles(StyleScope(1)) == {"tiny": "tiny"}
    assert write.styles(SHIPPED) == {"tiny": "tiny"}
    (models / "tiny.onnx").unlink()
    engine.reload()
    assert write.styles(SHIPPED) == {}
    assert write.styles(StyleScope(1)) == {"tiny": "1/tiny"}
    assert write.styles(StyleScope(3)) == {}
    published = StyleScope(3, frozenset({model_name(2, "tiny")}))
    assert write.styles(published) == {"tiny": "2/tiny"}
    mine_first = StyleScope(1, frozenset({model_name(2, "tiny")}))
    assert write.styles(mine_first) == {"tiny": "1/tiny"}
    engine.close()


def test_files_that_are_not_regular_are_refused_without_reading_them(model_dir, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(model_dir / "tiny.onnx", models / "tiny.onnx")
    os.mkfifo(models / "pipe.onnx")
    (models / "zero.onnx").symlink_to("/dev/zero")
    engine = InferenceEngine(models, prefer_gpu=False)
    started = time.monotonic()
    engine.load_all()
    assert time.monotonic() - started < 30  # a read from either would never end
    assert sorted(engine.models) == ["tiny"]
    assert "not a regular file" in engine.failures["pipe"]
    assert "not a regular file" in engine.failures["zero"]
    assert "tiny" not in engine.reload()  # a reload reads them no more than a start
    engine.close()


def test_messages_name_files_not_paths():
    message = "--from must be a run directory or an exported .onnx file: /srv/bot/models/x.onnx"
    assert without_paths(message).endswith("file: x.onnx")
    assert "/srv" not in without_paths("cannot open '/srv/a/b/text.txt'")


def test_output_lines_longer_than_any_buffer_are_read(tmp_path):
    job = TrainingJob("wide", 1, tmp_path)
    line = "".join(chr(0x4E00 + i) for i in range(30_000))  # one line, 90 KB of UTF-8

    async def read() -> None:
        job.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            f"import sys; sys.stdout.write({line!r} + '\\ndone\\n')",
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        await TrainCog.read_output(None, job)
        await job.process.wait()

    asyncio.run(read())
    assert job.output.endswith("done\n") and line[-100:] in job.output


def test_a_cancel_during_the_install_says_it_is_too_late(tmp_path):
    cog = TrainCog.__new__(TrainCog)
    cog.job = TrainingJob("lore", 1, tmp_path)
    cog.job.process = subprocess.Popen([sys.executable, "-c", "pass"])
    cog.job.process.wait()
    cog.job.installing = True
    assert "Too late" in cog.cancel()
    assert not cog.job.cancelled
    cog.job.installing = False
    assert cog.cancel() == "Cancelling…" and cog.job.cancelled


SLEEPER = "import time; time.sleep(120)"


def spawn_trainer(folder: Path) -> subprocess.Popen:
    """A stand-in trainer whose command line names its job folder, as the real one does."""
    return subprocess.Popen([sys.executable, "-c", SLEEPER, "--data", str(folder / "text.txt")])


def gone(pid: int, within: float = 10.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            waited = pid
        if waited == pid or not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.05)
    return False


def test_leftovers_of_a_killed_bot_are_removed_and_live_bots_left_alone(tmp_path):
    dead_bot = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_bot.wait()
    orphan = tmp_path / "rnnbot-train-orphan"
    orphan.mkdir()
    trainer = spawn_trainer(orphan)
    (orphan / OWNER_FILE).write_text(json.dumps({"bot": dead_bot.pid, "trainer": trainer.pid}))
    live = tmp_path / "rnnbot-train-live"
    live.mkdir()
    (live / OWNER_FILE).write_text(json.dumps({"bot": os.getppid(), "trainer": None}))
    unrelated = subprocess.Popen([sys.executable, "-c", SLEEPER])  # a reused pid: not ours
    stray = tmp_path / "rnnbot-train-stray"
    stray.mkdir()
    (stray / OWNER_FILE).write_text(json.dumps({"bot": dead_bot.pid, "trainer": unrelated.pid}))
    for name, owners in {
        "badpid": {"bot": 4194000, "trainer": "abc"},
        "huge": {"bot": 10**20},
    }.items():
        (tmp_path / f"rnnbot-train-{name}").mkdir()
        (tmp_path / f"rnnbot-train-{name}" / OWNER_FILE).write_text(json.dumps(owners))
    running = tmp_path / "rnnbot-train-running"  # a live bot's job and its trainer
    running.mkdir()
    busy = spawn_trainer(running)
    (running / OWNER_FILE).write_text(json.dumps({"bot": os.getppid(), "trainer": busy.pid}))
    prefix = tmp_path / "rnnbot-train-run"  # a dead bot's folder naming that trainer
    prefix.mkdir()
    (prefix / OWNER_FILE).write_text(json.dumps({"bot": dead_bot.pid, "trainer": busy.pid}))
    try:
        removed = clean_up_after_killed_bots(tmp_path)
        assert sorted(removed) == sorted([orphan, prefix, stray])
        assert gone(trainer.pid) and live.exists() and unrelated.poll() is None
        assert running.exists() and busy.poll() is None
        assert (tmp_path / "rnnbot-train-badpid").exists()  # not ours: left, and no crash
    finally:
        for process in (trainer, unrelated, busy):
            process.kill()


BOT = """
import subprocess, sys, time
from bot.discord_app.training_job import as_trainer
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                         preexec_fn=as_trainer)
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(training_job._prctl is None, reason="the parent-death signal is Linux's")
def test_the_trainer_dies_with_a_killed_bot_and_runs_at_a_lower_priority():
    bot = subprocess.Popen([sys.executable, "-c", BOT], stdout=subprocess.PIPE, text=True)
    trainer = int(bot.stdout.readline())
    try:
        nice = int(Path(f"/proc/{trainer}/stat").read_text().rsplit(")", 1)[1].split()[16])
        assert nice >= os.nice(0) + 10
        bot.kill()
        bot.wait()
        assert gone(trainer)
    finally:
        bot.kill()
        if Path(f"/proc/{trainer}").exists():
            os.kill(trainer, 9)


def test_the_trainer_gets_no_secrets(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "secret")
    env = training_job.trainer_environment()
    assert "DISCORD_TOKEN" not in env
    assert int(env["TF_NUM_INTRAOP_THREADS"]) <= max(1, (os.cpu_count() or 2) // 2)


def test_styles_trained_before_servers_had_folders_move_into_them(model_dir, tmp_path):
    """An old install put a server's style at the top, where every server would see it as
    shipped; start-up moves it (and its weights) into its server's folder, and nothing
    else: a file of another kind or another style keeps its place."""
    from bot.discord_app.training_job import adopt_old_styles

    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(model_dir / "tiny.onnx", models / "tiny.onnx")  # its style is "tiny"
    (models / "tiny.weights.h5").write_bytes(b"weights")
    shutil.copy(model_dir / "color.onnx", models / "color.onnx")
    shutil.copy(model_dir / "tiny.onnx", models / "saga.onnx")  # named saga, style tiny
    moved = adopt_old_styles(models, {(7, "tiny"), (7, "color"), (8, "saga")})
    assert moved == ["tiny"]
    assert sorted(p.name for p in (models / "trained" / "7").iterdir()) == [
        "tiny.onnx",
        "tiny.weights.h5",
    ]
    assert (models / "color.onnx").exists() and (models / "saga.onnx").exists()
    engine = InferenceEngine(models, prefer_gpu=False)
    engine.load_all()
    write = WriteService(engine, pool=None)
    assert "7/tiny" in engine.models and write.styles(StyleScope(8)) == {"tiny": "saga"}
    engine.close()
