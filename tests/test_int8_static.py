"""Int8 step graphs with fixed activation scales: a batch row's numbers are the same in
any batch and on any number of threads, and files quantised the earlier way (per-call
scales) are rewritten by `quantize write` within the held-out cost."""

import json
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from bot.contract.metadata import ModelMetadata
from training.__main__ import build_parser
from training.errors import UserError
from training.int8 import DYNAMIC, STATIC
from training.int8_static import static_int8
from training.onnx_export import attach_metadata
from training.quantize import quantize_main


def session(model: bytes, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def feeds(s: ort.InferenceSession, rows: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for i in s.get_inputs():
        if "int" in i.type:
            out[i.name] = rng.integers(0, 20, rows).astype(np.int32)
        else:  # states as a step would see them, some rows far larger than others
            out[i.name] = np.tanh(rng.normal(size=(rows, i.shape[1])) * 3).astype(np.float32)
    out[next(k for k in out if k.startswith("h"))][0] *= 0.01
    return out


def dynamic_int8(float_path: Path) -> onnx.ModelProto:
    """The file as `quantize write` made it before fixed scales, metadata and all."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "int8.onnx"
        quantize_dynamic(str(float_path), str(out), weight_type=QuantType.QInt8)
        proto = onnx.load(str(out))
    meta = ModelMetadata.from_props({p.key: p.value for p in onnx.load(float_path).metadata_props})
    meta.extra["quantization"] = {"weights": DYNAMIC}
    attach_metadata(proto, meta)
    return proto


def rows_alone_and_together(model: bytes, threads: int) -> tuple[list, list]:
    s = session(model, threads)
    batch = feeds(s, 16)
    together = s.run(None, batch)
    alone = [s.run(None, {k: v[r : r + 1] for k, v in batch.items()}) for r in (0, 5, 15)]
    return [[t[r : r + 1] for t in together] for r in (0, 5, 15)], alone


def test_dynamic_scales_make_a_row_depend_on_its_batch(model_dir):
    """The defect the rewrite removes, shown on the per-call-scale file."""
    together, alone = rows_alone_and_together(
        dynamic_int8(model_dir / "tiny.onnx").SerializeToString(), 1
    )
    pairs = [
        (a, b) for t, s in zip(together, alone, strict=True) for a, b in zip(t, s, strict=True)
    ]
    assert any(not np.array_equal(a, b) for a, b in pairs)


def test_fixed_scales_make_rows_independent_of_batch_and_threads(model_dir):
    model = static_int8(dynamic_int8(model_dir / "tiny.onnx")).SerializeToString()
    ops = {n.op_type for n in onnx.load_from_string(model).graph.node}
    assert "MatMulInteger" in ops and not ops & {"DynamicQuantizeLSTM", "DynamicQuantizeLinear"}
    for threads in (1, 2):
        together, alone = rows_alone_and_together(model, threads)
        for t, s in zip(together, alone, strict=True):
            for a, b in zip(t, s, strict=True):
                np.testing.assert_array_equal(a, b)
    one, two = (session(model, n).run(None, feeds(session(model, 1), 32)) for n in (1, 2))
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_float_graph_is_not_rewritten(model_dir):
    with pytest.raises(UserError, match="no dynamically quantised products"):
        static_int8(onnx.load(model_dir / "tiny.onnx"))


def test_quantize_write_rewrites_a_per_call_scale_file(model_dir, text_file, tmp_path, capsys):
    old = tmp_path / "old.onnx"
    onnx.save(dynamic_int8(model_dir / "tiny.onnx"), str(old))
    out = tmp_path / "tiny.onnx"
    argv = ["quantize", "write", "--model", str(old), "--data", str(text_file), "--out", str(out)]
    quantize_main(build_parser().parse_args([*argv, "--max-cost", "0.05"]))
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["written"] and report["fixed_scales"] and abs(report["cost"]) <= 0.05
    meta = ModelMetadata.from_props({p.key: p.value for p in onnx.load(out).metadata_props})
    assert meta.extra["quantization"]["weights"] == STATIC
    assert meta.metrics["held_out_nats_per_char_int8"] == report["nats_per_char_static"]
    with pytest.raises(UserError, match="already quantised"):
        quantize_main(build_parser().parse_args([*argv[:3], str(out), *argv[4:]]))
