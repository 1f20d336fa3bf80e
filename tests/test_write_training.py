"""Corpus handling, a tiny model trained and exported, resume, and the evaluate command."""

import csv
import json

import numpy as np
import onnx
import pytest

from bot.contract.metadata import ModelMetadata
from bot.text.vocabulary import Vocabulary
from tests.conftest import write_train_args
from training.__main__ import main as training_main
from training.errors import UserError
from training.tokenlm.corpus import read_texts, split_chunks, windows
from training.tokenlm.train import metrics_from_log


def test_vocabulary_round_trip():
    text = "To be, or not to be:\nthat is the question."
    vocab = Vocabulary.from_texts([text])
    assert vocab.decode(vocab.encode(text).ids) == text
    assert vocab.encode("xyz!").dropped == ("x", "y", "z", "!")


def test_not_utf8_and_too_small_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\n" * 300 + b"\xff\xfe broken\n")
    with pytest.raises(UserError, match="line 301: not valid UTF-8"):
        read_texts([bad])
    small = tmp_path / "small.txt"
    small.write_text("too short", encoding="utf-8")
    with pytest.raises(UserError, match="at least 2,000"):
        read_texts([small])


def test_cli_error_has_no_traceback(tmp_path, capsys):
    small = tmp_path / "small.txt"
    small.write_text("too short", encoding="utf-8")
    argv = ["train", "write", "--data", str(small), "--style", "x", "--run-dir", str(tmp_path)]
    assert training_main(argv) == 2
    assert "at least 2,000" in capsys.readouterr().err


def test_validation_is_whole_chunks_disjoint_from_training():
    ids = np.arange(1000)
    split = split_chunks(ids, chunk=100, every=5)
    assert len(split.train) + len(split.val) == 1000
    assert split.val.tolist() == list(range(400, 500)) + list(range(900, 1000))
    assert set(split.train).isdisjoint(split.val)


def test_windows_predict_every_next_token():
    x, y = windows(np.arange(11), seq_len=5)
    assert x.tolist() == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert y.tolist() == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]


def test_exported_step_model_metadata(model_dir):
    proto = onnx.load(model_dir / "tiny.onnx")
    meta = ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props})
    assert meta.kind == "charlm"
    assert meta.extra["style"] == "tiny" and meta.extra["task"] == "write"
    assert [s["input"] for s in meta.extra["state"]] == ["h0_in", "c0_in", "h1_in", "c1_in"]
    assert {"val_nats_per_token", "val_bits_per_token", "epochs_run"} <= set(meta.metrics)
    assert meta.data_sources[0]["file"] == "tiny.txt"
    assert meta.data_sources[0]["characters"] > 2000
    inputs = {i.name for i in proto.graph.input}
    outputs = {o.name for o in proto.graph.output}
    assert inputs == {"tokens", "h0_in", "c0_in", "h1_in", "c1_in"}
    assert outputs == {"logits", "h0_out", "c0_out", "h1_out", "c1_out"}
    assert [n.op_type for n in proto.graph.node].count("LSTM") == 2  # plain ONNX LSTM ops


def test_resume_continues_the_log(model_dir, text_file, tmp_path, capsys):
    import shutil

    from training.write import train_write

    # A copy of the session's two-epoch tiny write run (the shared one is never written).
    run_dir = tmp_path / "run"
    shutil.copytree(sorted(model_dir.parent.glob("wrun*"))[0], run_dir)
    (run_dir / "loss_curve.png").unlink(missing_ok=True)  # the resumed run draws it again
    capsys.readouterr()
    args = write_train_args(text_file, run_dir, None, epochs=3)
    args.resume = True
    train_write(args)
    assert "resuming after epoch 2" in capsys.readouterr().out
    with (run_dir / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert (run_dir / "loss_curve.png").exists()
    metrics = metrics_from_log(run_dir)
    assert metrics["epochs_run"] == 3
    assert metrics["training_seconds"] == pytest.approx(
        sum(float(r["epoch_seconds"]) for r in rows), abs=0.1
    )


def test_resume_without_a_run_is_an_error(text_file, tmp_path):
    from training.write import train_write

    args = write_train_args(text_file, tmp_path / "empty", None, epochs=1)
    args.resume = True
    with pytest.raises(UserError, match="nothing to resume"):
        train_write(args)


def test_evaluate_write_counts_unknown_characters(model_dir, tmp_path, capsys, text_file):
    data = tmp_path / "eval.txt"
    data.write_text(text_file.read_text()[:3000] + "ZZZ 🌲", encoding="utf-8")
    argv = ["evaluate", "write", "--model", str(model_dir / "tiny.onnx"), "--data", str(data)]
    assert training_main(argv) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["unknown_chars"] == 4
    assert metrics["n_chars"] == 3000  # 3,001 known characters, 3,000 predictions
    assert metrics["bits_per_char"] == pytest.approx(metrics["nats_per_char"] / np.log(2), abs=1e-3)
    assert 0 < metrics["nats_per_char"] < np.log(40)
