"""`finetune write`: a new style from a trained one, with the new text's characters."""

import json

import numpy as np

from bot.config import Settings
from bot.services import Services
from bot.write.service import WriteRequest
from tests.conftest import write_train_args
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


def test_finetune_keeps_the_base_characters_and_adds_the_new_ones(text_file, tmp_path):
    from training.write import train_write

    base_run = tmp_path / "base"
    train_write(write_train_args(text_file, base_run, None))
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
