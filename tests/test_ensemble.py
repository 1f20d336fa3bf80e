"""`training ensemble write`: two styles trained apart become one step graph whose
logits are the log of their mixed distributions, written only if it beats its best
member, served by the bot like any style, and a base that fine-tuning can start from."""

import json

import numpy as np
import onnx
import pytest

from bot.config import Settings
from bot.contract.metadata import ModelMetadata
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph
from bot.services import Services
from bot.write.service import WriteRequest
from tests.conftest import write_train_args
from training.__main__ import build_parser
from training.errors import UserError
from training.finetune import base_of
from training.onnx_export import attach_metadata
from training.tokenlm.ensemble import fit_weights, mixture_nats
from training.tokenlm.ensemble import main as ensemble_main
from training.tokenlm.evaluate import log_softmax
from training.write import train_write


def ensemble(members, text_file, out):
    argv = ["ensemble", "write", "--data", str(text_file), "--out", str(out)]
    for member in members:
        argv += ["--member", str(member)]
    ensemble_main(build_parser().parse_args(argv))


@pytest.fixture(scope="module")
def members(text_file, tmp_path_factory):
    """The tiny style twice, from two seeds: same text, vocabulary and split. Trained
    past the unigram stage, so that they differ in what they have learned."""
    folder = tmp_path_factory.mktemp("members")
    paths = []
    for seed, name in ((1, "tiny_a"), (2, "tiny_b")):
        args = write_train_args(text_file, folder / name, folder / f"{name}.onnx", epochs=15)
        args.seed, args.learning_rate, args.sample_length = seed, 1e-2, 0
        train_write(args)
        paths.append(folder / f"{name}.onnx")
    return paths


def load(path):
    return StepGraph(InferenceEngine(path.parent, prefer_gpu=False).load_file(path))


def test_mixture_is_the_mean_of_the_members_distributions(members, text_file, tmp_path, capsys):
    out = tmp_path / "mixed.onnx"
    ensemble(members, text_file, out)
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["written"] and report["gain_over_best_member"] > 0
    mixed, parts = load(out), [load(p) for p in members]
    assert len(mixed.layout) == sum(len(m.layout) for m in parts)
    tokens = np.array([3, 5, 1, 7, 2, 9], np.int32)
    weights = [m["weight"] for m in mixed.model.metadata.extra["ensemble"]["members"]]
    assert [round(w, 4) for w in weights] == report["weights"] and abs(sum(weights) - 1) < 1e-9
    state, states = mixed.zero_state(2), [m.zero_state(2) for m in parts]
    for t in tokens:
        batch = np.array([t, (t + 4) % 10], np.int32)
        logits, state = mixed(batch, state)
        probabilities = []
        for k, member in enumerate(parts):
            member_logits, states[k] = member(batch, states[k])
            probabilities.append(np.exp(log_softmax(member_logits.astype(np.float64))))
        mix = sum(w * q for w, q in zip(weights, probabilities, strict=True))
        np.testing.assert_allclose(np.exp(logits), mix, atol=1e-5)
    members_meta = mixed.model.metadata.extra["ensemble"]["members"]
    assert [m["file"] for m in members_meta] == ["tiny_a.onnx", "tiny_b.onnx"]
    assert (
        mixed.model.metadata.metrics["held_out_nats_per_char"] == report["held_out_nats_per_char"]
    )


def test_mixture_is_served_as_a_style(members, text_file, tmp_path):
    ensemble(members, text_file, tmp_path / "tiny.onnx")
    services = Services.start(Settings(model_dir=tmp_path, prefer_gpu=False))
    try:
        assert services.write.styles() == {"tiny": "tiny"}
        result = services.write.write(WriteRequest("tiny", "the king", 60, 0.5, 1))
        again = services.write.write(WriteRequest("tiny", "the king", 60, 0.5, 1))
        assert result.generated_chars == 60 and result.text == again.text
    finally:
        services.close()


def test_a_mixture_no_better_than_its_member_is_not_written(members, text_file, tmp_path, capsys):
    out = tmp_path / "same.onnx"
    with pytest.raises(UserError, match="no better than its best member"):
        ensemble([members[0], members[0]], text_file, out)
    assert not out.exists()
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["written"] is False


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.data_sources[0].update(characters=1), "other data"),
        (lambda m: m.extra["split"].update(val_every=3), "split"),
        (lambda m: m.vocabulary.reverse(), "vocabulary"),
    ],
)
def test_members_of_other_data_split_or_vocabulary_are_refused(
    members, text_file, tmp_path, change, message
):
    proto = onnx.load(str(members[1]))
    meta = ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props})
    change(meta)
    attach_metadata(proto, meta)
    onnx.save(proto, str(tmp_path / "other.onnx"))
    with pytest.raises(UserError, match=message):
        ensemble([members[0], tmp_path / "other.onnx"], text_file, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_fine_tuning_a_mixture_starts_from_its_first_member(members, text_file, tmp_path):
    from training.tokenlm.model import build_train_model

    out = tmp_path / "mixed.onnx"
    ensemble([members[1], members[0]], text_file, out)
    models = []
    for source in (out, members[1]):
        base = base_of(source)
        model = build_train_model(base.config)
        base.load(model)
        models.append(model)
    for name in ("embed", "lstm_0", "logits"):
        for got, want in zip(
            models[0].get_layer(name).get_weights(),
            models[1].get_layer(name).get_weights(),
            strict=True,
        ):
            np.testing.assert_allclose(got, want, atol=1e-6)


def test_fitted_weights_favour_the_member_that_explains_the_text():
    rng = np.random.default_rng(0)
    good = np.log(rng.uniform(0.3, 0.9, 2000))
    weights = fit_weights(np.stack([good, good - 3.0]))  # the second is 20x less likely
    assert weights[0] > 0.95 and abs(weights.sum() - 1) < 1e-9
    assert mixture_nats(np.stack([good, good - 3.0]), weights) < -good.mean() + 0.01
    halves = np.stack([np.r_[good[:1000], good[1000:] - 3], np.r_[good[:1000] - 3, good[1000:]]])
    np.testing.assert_allclose(fit_weights(halves), [0.5, 0.5], atol=0.02)
