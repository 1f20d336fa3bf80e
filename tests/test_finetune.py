"""`finetune write`: a new style from a trained one, with the new text's characters."""

import json

import numpy as np

from bot.config import Settings
from bot.runtime.engine import InferenceEngine
from bot.services import Services
from bot.write.service import WriteRequest
from training.__main__ import build_parser
from training.finetune import finetune_write

NEW_TEXT = "".join(
    f"Zoë sings {word} songs.\n" for word in ["old", "sad", "bright", "long", "odd"] * 60
)


def finetune_args(base, data, run_dir, out, epochs=3):
    argv = ["finetune", "write", "--from", str(base), "--data", str(data), "--style", "zoe"]
    argv += ["--epochs", str(epochs), "--batch-size", "8", "--seq-len", "32"]
    argv += ["--val-chunk", "300", "--sample-length", "0", "--learning-rate", "3e-3"]
    return build_parser().parse_args([*argv, "--run-dir", str(run_dir), "--out", str(out)])


def test_finetune_keeps_the_base_characters_and_adds_the_new_ones(model_dir, tmp_path):
    # The base: the session's tiny write run (tiny.onnx's), read and never written here.
    base_run = sorted(model_dir.parent.glob("wrun*"))[0]
    data = tmp_path / "zoe.txt"
    data.write_text(NEW_TEXT, encoding="utf-8")
    models = tmp_path / "models"
    models.mkdir()
    finetune_write(finetune_args(base_run, data, tmp_path / "ft", models / "zoe.onnx"))

    base_vocab = json.loads((base_run / "config.json").read_text())["vocabulary"]
    services = Services.start(Settings(model_dir=models, prefer_gpu=False))
    try:
        model = services.engine.get("zoe", "charlm")
        vocabulary = model.metadata.vocabulary
        assert vocabulary[: len(base_vocab)] == base_vocab  # old ids keep their meaning
        assert {"Z", "ë"} <= set(vocabulary[len(base_vocab) :])
        extra = model.metadata.extra
        assert extra["base_model"]["style"] == "tiny" and set(extra["new_characters"]) >= {"Z"}
        source = model.metadata.data_sources[0]
        assert source["file"] == "zoe.txt" and len(source["sha256"]) == 64
        text = services.write.write(WriteRequest("zoe", "Zo", 200, 0.5, 1)).text
        assert {"Z", "ë"} & set(text[2:])  # the new characters' rows are in use
    finally:
        services.close(grace=1.0)

    log = (tmp_path / "ft" / "log.csv").read_text().splitlines()[1:]
    losses = [float(row.split(",")[-1]) for row in log]
    assert len(losses) >= 2 and min(losses) < losses[0]
    assert (models / "zoe.weights.h5").exists()  # so it can be the base of the next one
    finetune_write(
        finetune_args(models / "zoe.onnx", data, tmp_path / "ft2", models / "z2.onnx", 1)
    )
    assert np.isfinite(
        float((tmp_path / "ft2" / "log.csv").read_text().splitlines()[1].split(",")[-1])
    )


def test_weights_read_back_from_an_exported_step_graph(model_dir):
    """A caption model keeps no Keras weights beside it; its file holds them all."""
    from training.finetune import base_model, base_of

    base = base_of(model_dir / "captions.onnx", task="caption")
    assert not (model_dir / "captions.weights.h5").exists()
    import onnxruntime as ort

    from training.caption.image_export import stepwise_difference

    model = base_model(base)
    tokens = np.array([0, 5, 9, 3, 7, 2])
    keras_logits = np.asarray(model(tokens[None].astype(np.int32)))[0]
    path = model_dir / "captions.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    layout = InferenceEngine(model_dir, prefer_gpu=False).load_file(path).metadata.extra["state"]
    assert stepwise_difference(session, layout, {}, tokens, keras_logits) < 1e-4


def test_finetune_caption_makes_a_caption_style(model_dir, tmp_path):
    from bot.caption.service import CaptionRequest

    data = tmp_path / "mine.txt"
    lines = [
        f"A zebra {verb} in the {place} .\n"
        for verb in ["runs", "naps", "eats", "hides"]
        for place in ["sun", "grass", "water", "snow", "field", "park"]
    ]
    data.write_text("".join(lines * 3), encoding="utf-8")  # 24 captions, the repeats dropped
    models = tmp_path / "models"
    models.mkdir()
    argv = ["finetune", "caption", "--from", str(model_dir / "captions.onnx"), "--data", str(data)]
    argv += ["--epochs", "40", "--patience", "40", "--batch-size", "4", "--learning-rate", "1e-2"]
    argv += ["--val-fraction", "0.2", "--sample-length", "0", "--run-dir", str(tmp_path / "run")]
    argv += ["--out", str(models / "captions.onnx")]
    from training.__main__ import main as training_main

    assert training_main(argv) == 0
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]
    losses = [float(row.split(",")[-1]) for row in log]
    assert min(losses) < losses[0]

    services = Services.start(Settings(model_dir=models, prefer_gpu=False))
    try:
        meta = services.engine.get("captions", "charlm").metadata
        base_vocab = base_vocabulary(model_dir / "captions.onnx")
        assert meta.vocabulary[: len(base_vocab)] == base_vocab
        assert "z" in meta.extra["new_characters"] and meta.extra["task"] == "caption"
        result = services.caption.caption(CaptionRequest(count=3, temperature=0.5, seed=1))
        assert any("zebra" in c for c in result.captions), result.captions
    finally:
        services.close(grace=1.0)


def base_vocabulary(path) -> list[str]:
    return InferenceEngine(path.parent, prefer_gpu=False).load_file(path).metadata.vocabulary
