"""Safe reload: validated before the swap, old batchers drained and released, removed
files removed, malformed metadata and external data refused with the reason."""

import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bot.config import Settings
from bot.errors import ModelUnavailable
from bot.runtime.batching import GenerationStopped
from bot.services import Services
from bot.write.service import WriteRequest


def copy_models(model_dir: Path, to: Path, names=None) -> Path:
    for path in model_dir.glob("*.onnx"):
        if names is None or path.stem in names:
            shutil.copy(path, to / path.name)
    return to


def with_metadata(source: Path, target: Path, field: str, value) -> None:
    """Copy a model, replacing one rnnbot metadata field with `value` (any JSON)."""
    model = onnx.load(str(source))
    for prop in model.metadata_props:
        if prop.key == f"rnnbot.{field}":
            prop.value = json.dumps(value)
    onnx.save(model, str(target))


def tiny_extra(model_dir: Path) -> dict:
    model = onnx.load(str(model_dir / "tiny.onnx"))
    return json.loads(next(p.value for p in model.metadata_props if p.key == "rnnbot.extra"))


def start(folder: Path) -> Services:
    return Services.start(Settings(model_dir=folder, prefer_gpu=False))


def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def batcher_threads() -> int:
    return sum(t.name.startswith("batcher") for t in threading.enumerate())


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def malformed(model_dir):
    extra = tiny_extra(model_dir)
    no_size = dict(
        extra, state=[{k: v for k, v in s.items() if k != "size"} for s in extra["state"]]
    )
    return {
        "state entry without size": ("extra", no_size),
        "extra as a list": ("extra", [1, 2, 3]),
        "vocabulary as a dict": ("vocabulary", {"a": 1}),
        "state size as text": (
            "extra",
            dict(extra, state=[dict(s, size="16") for s in extra["state"]]),
        ),
        "write style missing": ("extra", {k: v for k, v in extra.items() if k != "style"}),
        "kind unknown": ("kind", "telepathy"),
    }


CASES = [
    "state entry without size",
    "extra as a list",
    "vocabulary as a dict",
    "state size as text",
    "write style missing",
    "kind unknown",
]


@pytest.mark.parametrize("case", CASES)
def test_malformed_metadata_disables_only_its_model(model_dir, tmp_path, case):
    copy_models(model_dir, tmp_path, {"color", "tiny"})
    field, value = malformed(model_dir)[case]
    with_metadata(model_dir / "tiny.onnx", tmp_path / "zz_bad.onnx", field, value)
    services = start(tmp_path)  # does not raise
    try:
        assert "zz_bad" in services.engine.failures
        assert "metadata" in services.engine.failures["zz_bad"]
        assert services.color.color("forest").name == "forest"
        assert services.write.write(WriteRequest("tiny", "", 50, 0.5, 1)).generated_chars == 50
    finally:
        services.close()


def test_malformed_file_at_reload_keeps_old_model_and_later_files_load(model_dir, tmp_path):
    copy_models(model_dir, tmp_path, {"color", "tiny"})
    services = start(tmp_path)
    try:
        extra = tiny_extra(model_dir)
        with_metadata(
            model_dir / "tiny.onnx", tmp_path / "tiny.onnx", "extra", dict(extra, state=3)
        )
        shutil.copy(model_dir / "monet.onnx", tmp_path / "zz_monet.onnx")  # sorted after tiny
        report = services.engine.reload()
        assert report["tiny"].startswith("failed, previous version kept: tiny.onnx has unusable")
        assert report["zz_monet"] == "loaded"
        assert services.write.write(WriteRequest("tiny", "", 50, 0.5, 1)).generated_chars == 50
    finally:
        services.close()


def test_removed_file_removes_its_model(model_dir, tmp_path):
    copy_models(model_dir, tmp_path, {"color", "tiny"})
    services = start(tmp_path)
    try:
        (tmp_path / "tiny.onnx").unlink()
        assert services.engine.reload() == {"tiny": "removed (its file is gone)"}
        with pytest.raises(ModelUnavailable, match="No writing style 'tiny'"):
            services.write.write(WriteRequest("tiny", "", 50))
        assert services.color.color("forest").name == "forest"
    finally:
        services.close()


def test_external_data_is_refused(tmp_path):
    weights = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    model.metadata_props.add(key="rnnbot.kind", value='"color"')
    onnx.save_model(
        model,
        str(tmp_path / "color.onnx"),
        save_as_external_data=True,
        location="w.bin",
        size_threshold=0,
    )
    services = start(tmp_path)
    try:
        assert "external tensor data" in services.engine.failures["color"]
    finally:
        services.close()


def test_reloads_of_a_model_in_use_leave_threads_and_memory_flat(model_dir, tmp_path):
    copy_models(model_dir, tmp_path, {"tiny"})
    services = start(tmp_path)
    path = tmp_path / "tiny.onnx"
    try:
        # A long generation keeps the first model busy through the first reloads.
        long = services.write.submit(WriteRequest("tiny", "", 1500, 0.8, 1)).generation
        services.write.write(WriteRequest("tiny", "", 50, 0.8, 2))
        threads, memory, batchers = native_threads(), rss_mb(), batcher_threads()
        for i in range(40):
            stamp = path.stat().st_mtime_ns + (i + 1) * 1_000_000_000
            os.utime(path, ns=(stamp, stamp))
            assert services.engine.reload() == {"tiny": "loaded"}
            services.write.write(WriteRequest("tiny", "", 50, 0.8, i))
        assert len(long.result(30)) == 1500  # finished on the model it started with
        for batcher in list(services.pool._retired):
            batcher.join(10)
        assert batcher_threads() <= batchers, threading.enumerate()
        assert native_threads() <= threads + 2
        assert rss_mb() - memory < 40
    finally:
        services.close()


def test_shutdown_stops_admitting_and_bounds_running_work(model_dir, tmp_path, slow_steps):
    copy_models(model_dir, tmp_path, {"tiny"})
    services = start(tmp_path)
    running = services.write.submit(WriteRequest("tiny", "", 1500, 0.8, 1)).generation  # ~7.5 s
    started = time.monotonic()
    services.close(grace=0.5)
    assert time.monotonic() - started < 5
    with pytest.raises(GenerationStopped, match="shut down"):
        running.result(1)
    with pytest.raises(ModelUnavailable):
        services.write.write(WriteRequest("tiny", "", 50))
    assert services.pool.stats() == {} and not running.future.running()


def test_an_engine_with_a_share_loads_only_its_files(model_dir, tmp_path, monkeypatch):
    """An inference replica's engine (`serves`) picks its files by metadata and opens no
    session for the others; a new file of its task is picked up at reload."""
    from bot.runtime.engine import InferenceEngine
    from bot.runtime.onnx_guard import metadata_props

    copy_models(model_dir, tmp_path, {"color", "tiny", "monet", "names"})
    opened = []
    real_load = InferenceEngine.load_file
    monkeypatch.setattr(
        InferenceEngine,
        "load_file",
        lambda self, path, name=None: opened.append(path.stem) or real_load(self, path, name),
    )
    engine = InferenceEngine(
        tmp_path, prefer_gpu=False, serves=lambda meta: meta.extra.get("task") == "paint"
    )
    engine.load_all()
    assert list(engine.models) == ["monet"] and opened == ["monet"] and not engine.failures
    shutil.copy(model_dir / "monet.onnx", tmp_path / "monet2.onnx")
    shutil.copy(model_dir / "tiny.onnx", tmp_path / "tiny2.onnx")
    assert engine.reload() == {"monet2": "loaded"}
    (tmp_path / "broken.onnx").write_bytes(b"not onnx")  # unreadable: ours to report
    assert engine.reload()["broken"].startswith("failed")
    props = metadata_props((model_dir / "tiny.onnx").read_bytes())
    assert json.loads(props["rnnbot.extra"])["task"] == "write"
    engine.close()


def test_a_reload_lets_running_requests_finish_on_their_model(
    model_dir, tmp_path, slow_steps, monkeypatch
):
    """A reload at any moment cuts no request short: each ends on the model it started
    with, at its end or at its own deadline. The old fixed grace is shrunk to 0.2 s here
    so that, were it still used, the test would see it within seconds."""
    from bot.runtime.batching import Batcher

    real_close = Batcher.close
    monkeypatch.setattr(Batcher, "close", lambda self, grace=0.2: real_close(self, min(grace, 0.2)))
    copy_models(model_dir, tmp_path, {"tiny"})
    services = start(tmp_path)
    path = tmp_path / "tiny.onnx"
    try:
        whole = services.write.submit(WriteRequest("tiny", "", 300, 0.8, 1))  # ~1.5 s
        due = time.monotonic() + 0.8
        bounded = services.write.submit(WriteRequest("tiny", "", 1500, 0.8, 2), deadline=due)
        while len(whole.generation.tokens) < 5:
            time.sleep(0.01)
        stamp = path.stat().st_mtime_ns + 1_000_000_000
        os.utime(path, ns=(stamp, stamp))
        assert services.engine.reload() == {"tiny": "loaded"}
        assert services.write.write(WriteRequest("tiny", "", 50, 0.8, 3)).generated_chars == 50
        assert whole.result().generated_chars == 300
        with pytest.raises(GenerationStopped, match="took too long"):
            bounded.result()
        assert time.monotonic() >= due
    finally:
        services.close(grace=0.5)
