"""A tiny model trained, exported with a parity check, and served by the engine."""

import json
import shutil

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from bot.contract.metadata import ModelMetadata
from bot.errors import ModelUnavailable
from bot.runtime.engine import CPU, CUDA, InferenceEngine, ProviderChoice
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


def _op_types(graph: onnx.GraphProto) -> set[str]:
    """Op types of a graph and of every subgraph (Loop bodies) in it."""
    types = set()
    for node in graph.node:
        types.add(node.op_type)
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                types |= _op_types(attribute.g)
    return types


def test_color_export_uses_native_lstm(model_dir):
    ops = _op_types(onnx.load(model_dir / "color.onnx").graph)
    assert "LSTM" in ops
    assert not ops & {"Loop", "Scan", "If"}


def _random_color_model(variant, vocab_size: int = 8, max_length: int = 8):
    """A colour model with seeded random weights (large enough that every gate matters)."""
    from training.color.model import build_color_model

    model = build_color_model(variant, vocab_size, max_length)
    rng = np.random.default_rng(0)
    for weight in model.weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype(np.float32))
    return model


def _right_padded_ids(rows: int = 40, vocab_size: int = 8, max_length: int = 8) -> np.ndarray:
    """Random names of every length from 0 (all padding) to max_length, right-padded."""
    rng = np.random.default_rng(1)
    chars = np.zeros((rows, max_length), np.int32)
    for row in range(rows):
        n = row % (max_length + 1)
        chars[row, :n] = rng.integers(1, vocab_size, size=n)
    return chars


def _tiny_variant(bidirectional: bool):
    from training.color.variants import ColorVariant

    return ColorVariant(
        "tiny2", "2 x LSTM", "right", "lab", embedding=4, units=(3, 2), bidirectional=bidirectional
    )


@pytest.mark.parametrize("bidirectional", [True, False])
def test_native_graph_matches_keras(bidirectional):
    from training.color.onnx_graph import color_graph

    variant = _tiny_variant(bidirectional)
    model = _random_color_model(variant)
    proto = color_graph(model, variant, max_length=8)
    assert [n.op_type for n in proto.graph.node].count("LSTM") == 2
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    chars = _right_padded_ids()
    (got,) = session.run(["rgb"], {"chars": chars})
    np.testing.assert_allclose(got, model.predict(chars, verbose=0), atol=1e-5)
    (only_padding,) = session.run(["rgb"], {"chars": np.zeros((2, 8), np.int32)})
    np.testing.assert_allclose(
        only_padding, model.predict(chars[:1], verbose=0).repeat(2, 0), atol=1e-6
    )


def test_lstm_weight_layout_round_trips():
    from training.lstm_weights import keras_lstm_weights, onnx_lstm_weights

    rng = np.random.default_rng(2)
    cells = [tuple(rng.normal(size=s) for s in [(4, 12), (3, 12), (12,)]) for _ in range(2)]
    w, r, b = onnx_lstm_weights(cells)
    assert (w.shape, r.shape, b.shape) == ((2, 12, 4), (2, 12, 3), (2, 24))
    for back, cell in zip(keras_lstm_weights(w, r, b), cells, strict=True):
        for got, want in zip(back, cell, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6)


def _reexport(source, out) -> ModelMetadata:
    argv = ["export", "color", "--weights-from", str(source), "--out", str(out)]
    assert training_main(argv) == 0
    return ModelMetadata.from_props({p.key: p.value for p in onnx.load(out).metadata_props})


def _predict(path, chars: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["rgb"], {"chars": chars})[0]


def test_reexport_keeps_metadata_and_answers(model_dir, tmp_path):
    source, out = model_dir / "color.onnx", tmp_path / "color.onnx"
    old = ModelMetadata.from_props({p.key: p.value for p in onnx.load(source).metadata_props})
    new = _reexport(source, out)
    assert new.extra.pop("exported_with") == "native ONNX LSTM"
    assert new.extra.pop("re_exported")["from"] == "color.onnx"
    assert new == old
    chars = _right_padded_ids(64, len(old.vocabulary) + 1, old.max_length)
    np.testing.assert_allclose(_predict(out, chars), _predict(source, chars), atol=1e-5)
    engine = InferenceEngine(tmp_path, prefer_gpu=False)
    engine.load_all()
    assert engine.failures == {}


def test_reexport_reads_tf2onnx_weights(tmp_path):
    """The shipped file's case: weights named by tf2onnx, Bidirectional LSTMs as Loop ops."""
    from dataclasses import asdict

    from training.color.train import traced_graph
    from training.onnx_export import attach_metadata

    variant = _tiny_variant(bidirectional=True)
    model = _random_color_model(variant)
    proto = traced_graph(model, max_length=8)
    assert "Loop" in _op_types(proto.graph)
    known = {"ab": "#102030", "gaf": "#aabbcc", "bedcafge": "#000000", "c": "#ffffff"}
    metadata = ModelMetadata(
        kind="color",
        vocabulary=list("abcdefg"),
        max_length=8,
        extra={"padding": "right", "variant": asdict(variant), "known_colors": known},
    )
    attach_metadata(proto, metadata)
    onnx.save(proto, tmp_path / "old.onnx")
    _reexport(tmp_path / "old.onnx", tmp_path / "color.onnx")
    assert not _op_types(onnx.load(tmp_path / "color.onnx").graph) & {"Loop", "Scan", "If"}
    chars = _right_padded_ids()
    np.testing.assert_allclose(
        _predict(tmp_path / "color.onnx", chars), model.predict(chars, verbose=0), atol=1e-5
    )
