"""`training quantize write`: int8 written only within the allowed held-out cost, and
served by the bot like any other style."""

import json
import shutil

import pytest

from bot.config import Settings
from bot.services import Services
from bot.write.service import WriteRequest
from training.__main__ import build_parser
from training.errors import UserError
from training.quantize import quantize_main


def quantize(model, text_file, out, max_cost):
    args = build_parser().parse_args(
        ["quantize", "write", "--model", str(model), "--data", str(text_file), "--out", str(out)]
        + ["--max-cost", str(max_cost)]
    )
    quantize_main(args)


def test_int8_is_refused_beyond_the_allowed_cost(model_dir, text_file, tmp_path, capsys):
    out = tmp_path / "tiny.onnx"
    with pytest.raises(UserError, match="not written"):
        quantize(model_dir / "tiny.onnx", text_file, out, -1.0)
    assert not out.exists()
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["written"] is False and report["bytes_int8"] < report["bytes_float"]


def test_int8_model_is_measured_marked_and_served(model_dir, text_file, tmp_path, capsys):
    shutil.copy(model_dir / "color.onnx", tmp_path / "color.onnx")
    quantize(model_dir / "tiny.onnx", text_file, tmp_path / "tiny.onnx", 1.0)
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["written"] and abs(report["cost"]) < 1.0
    services = Services.start(Settings(model_dir=tmp_path, prefer_gpu=False))
    try:
        model = services.engine.models["tiny"]
        assert (
            model.metadata.extra["quantization"]["nats_per_char_int8"]
            == (report["nats_per_char_int8"])
        )
        result = services.write.write(WriteRequest("tiny", "the king", 80, 0.5, 1))
        assert result.generated_chars == 80
    finally:
        services.close()
    with pytest.raises(UserError, match="already quantised"):
        quantize(tmp_path / "tiny.onnx", text_file, tmp_path / "again.onnx", 1.0)


def test_int8_is_refused_when_not_fast_enough(model_dir, text_file, tmp_path, capsys):
    out = tmp_path / "tiny.onnx"
    args = build_parser().parse_args(
        ["quantize", "write", "--model", str(model_dir / "tiny.onnx"), "--data", str(text_file)]
        + ["--out", str(out), "--max-cost", "1.0", "--min-speedup", "1000"]
    )
    with pytest.raises(UserError, match="keep the float model"):
        quantize_main(args)
    assert not out.exists()
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for batch in ("batch_1", "batch_32"):
        speed = report["speed"][batch]
        assert speed["float_us"] > 0 and speed["int8_us"] > 0
        assert speed["speedup"] == round(speed["float_us"] / speed["int8_us"], 3)


def test_a_painter_is_quantized_within_its_cost_and_paints(model_dir, painting_dir, tmp_path):
    """`quantize paint`: scored on the held-out paintings, refused beyond the cost, and an
    int8 painter that the bot paints with (deterministically) when written."""
    import onnx

    from bot.paint.service import PaintRequest
    from training.__main__ import main as training_main

    argv = ["quantize", "paint", "--model", str(model_dir / "monet.onnx")]
    argv += ["--data", str(painting_dir), "--out", str(tmp_path / "monet.onnx")]
    assert training_main([*argv, "--max-cost", "-1"]) == 2
    assert not (tmp_path / "monet.onnx").exists()
    assert training_main([*argv, "--max-cost", "1"]) == 0
    ops = {node.op_type for node in onnx.load(str(tmp_path / "monet.onnx")).graph.node}
    assert ops & {"MatMulInteger", "DynamicQuantizeLSTM"}
    services = Services.start(Settings(model_dir=tmp_path, prefer_gpu=False))
    try:
        meta = services.engine.get("monet", "charlm").metadata
        assert meta.extra["quantization"]["cost"] <= 1 and "bits_per_pixel_int8" in meta.metrics
        first, again = (services.paint.paint(PaintRequest(seed=3)).indices for _ in range(2))
        assert (first == again).all()
    finally:
        services.close(grace=1.0)
    with pytest.raises(UserError, match="already quantised"):
        from training.paint.quantize import quantize_paint

        quantize_paint(tmp_path / "monet.onnx", painting_dir, tmp_path / "x.onnx", 1.0, None)
