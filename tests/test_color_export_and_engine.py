"""A tiny model trained, exported with a parity check, and served by the engine."""

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from bot.engine import CPU, CUDA, InferenceEngine, ProviderChoice
from bot.errors import ModelUnavailable
from bot.metadata import ModelMetadata
from training.__main__ import main as training_main
from training.onnx_export import ParityError, write_checked


def test_export_carries_metadata(model_dir):
    proto = onnx.load(model_dir / "color.onnx")
    meta = ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props})
    assert meta.kind == "color"
    assert meta.max_length == 32
    assert "f" in meta.vocabulary
    assert meta.data_sources[0]["file"] == "colors.csv"
    assert meta.data_sources[0]["rows"] == 24
    assert {"delta_e_mean", "baseline_delta_e_mean", "mse", "n"} <= set(meta.metrics)
    assert meta.training_command.startswith("python -m training")
    assert meta.trained_at
    assert meta.extra["known_colors"]["forest"] == "#228b22"


def test_parity_failure_writes_nothing(model_dir, tmp_path):
    proto = onnx.load(model_dir / "color.onnx")
    target = tmp_path / "color.onnx"
    with pytest.raises(ParityError):
        write_checked(proto, target, parity=lambda session: 0.5)
    assert list(tmp_path.iterdir()) == []
    write_checked(proto, target, parity=lambda session: 0.0)
    assert target.exists() and list(tmp_path.iterdir()) == [target]


def test_engine_loads_and_validates(model_dir):
    engine = InferenceEngine(model_dir, prefer_gpu=False)
    engine.load_all()
    model = engine.get("color", "color")
    out = model.run({"chars": np.ones((2, 32), np.int32)})
    assert out["rgb"].shape == (2, 3)
    assert ((out["rgb"] >= 0) & (out["rgb"] <= 1)).all()
    assert engine.failures == {}


def test_missing_and_corrupt_models_disable_only_themselves(model_dir, tmp_path):
    shutil.copy(model_dir / "color.onnx", tmp_path / "color.onnx")
    (tmp_path / "broken.onnx").write_bytes(b"not an onnx file")
    engine = InferenceEngine(tmp_path, prefer_gpu=False)
    engine.load_all()
    assert "color" in engine.models
    assert "broken" in engine.failures and "not a loadable ONNX model" in engine.failures["broken"]
    with pytest.raises(ModelUnavailable, match="broken"):
        engine.get("broken", "color")
    with pytest.raises(ModelUnavailable, match="no color model named 'shakespeare'"):
        engine.get("shakespeare", "color")


def test_wrong_signature_is_refused(model_dir, tmp_path):
    proto = onnx.load(model_dir / "color.onnx")
    for prop in proto.metadata_props:
        if prop.key == "rnnbot.max_length":
            prop.value = "25"
    onnx.save(proto, tmp_path / "color.onnx")
    engine = InferenceEngine(tmp_path, prefer_gpu=False)
    engine.load_all()
    assert "expected int32[None, 25]" in engine.failures["color"]


def test_reload_keeps_old_model_when_new_file_is_corrupt(model_dir, tmp_path):
    path = tmp_path / "color.onnx"
    shutil.copy(model_dir / "color.onnx", path)
    engine = InferenceEngine(tmp_path, prefer_gpu=False)
    engine.load_all()
    old = engine.models["color"]
    path.write_bytes(b"garbage")
    report = engine.reload()
    assert report["color"].startswith("failed, previous version kept")
    assert engine.models["color"] is old


def test_provider_probe_falls_back_to_cpu_once(model_dir, monkeypatch):
    data = (model_dir / "color.onnx").read_bytes()
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])
    created = []
    real_session = ort.InferenceSession

    def fake_session(model, options=None, providers=None):
        created.append(list(providers))
        return real_session(model, options, providers=[CPU])  # CUDA "could not load"

    monkeypatch.setattr(ort, "InferenceSession", fake_session)
    choice = ProviderChoice(prefer_gpu=True)
    session = choice.session(data, ort.SessionOptions())
    assert session.get_providers() == [CPU]
    assert choice.providers == [CPU]
    choice.session(data, ort.SessionOptions())
    assert created == [[CUDA, CPU], [CPU]]  # CUDA asked for once, then never again


def test_provider_keeps_cuda_when_session_gets_it(model_dir, monkeypatch):
    data = (model_dir / "color.onnx").read_bytes()
    monkeypatch.setattr(ort, "get_available_providers", lambda: [CUDA, CPU])

    class FakeSession:
        def __init__(self, model, options=None, providers=None):
            self.providers = providers

        def get_providers(self):
            return self.providers

    monkeypatch.setattr(ort, "InferenceSession", FakeSession)
    choice = ProviderChoice(prefer_gpu=True)
    choice.session(data, ort.SessionOptions())
    assert choice.providers == [CUDA, CPU]


def test_evaluate_prints_json_last_line(model_dir, color_csv, capsys):
    assert (
        training_main(
            [
                "evaluate",
                "color",
                "--model",
                str(model_dir / "color.onnx"),
                "--data",
                str(color_csv),
            ]
        )
        == 0
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads(last)
    assert metrics["n"] == 24
    for key in ("mse", "delta_e_mean", "delta_e_median", "baseline_delta_e_mean"):
        assert isinstance(metrics[key], float)
