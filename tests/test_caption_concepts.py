"""Concepts: the words a picture makes likely, the bridge between the image and the decoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import train_image_captioner
from training.caption.concepts import (
    caption_words,
    concept_list,
    fit_classifier,
    image_targets,
    leave_one_out,
    out_of_fold,
)


def test_concepts_are_content_words_by_image_frequency():
    assert caption_words("a dog runs in the snow with a dog") == {"dog", "runs", "snow"}
    groups = [["a dog in snow", "a dog"], ["a dog on grass"], ["a cat on grass"]]
    # "dog" is in two images' captions (however often each says it), "grass" in two.
    assert concept_list(groups, 2) == ["dog", "grass"]
    assert image_targets(["dog", "snow"], groups[0]).tolist() == [1.0, 0.5]


def test_leave_one_out_never_shows_a_caption_its_own_words():
    concepts = ["dog", "cat", "red"]
    groups = [["a red dog", "a cat", "a cat"], ["a dog"]]
    vectors = leave_one_out(concepts, groups, np.zeros(3), np.random.default_rng(0))
    assert vectors.shape == (4, 3)
    assert vectors[0][0] == 0 and vectors[0][2] == 0 and vectors[0][1] > 0  # sees the cats
    assert vectors[1][0] > 0 and vectors[1][2] > 0  # sees the red dog
    # An image with one caption has nobody else to ask: it gets the prior.
    assert not vectors[3].any()


def test_out_of_fold_predictions_never_see_their_own_image():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 30)).astype(np.float32)
    targets = np.zeros((60, 2), np.float32)
    targets[0, 0] = 1.0  # only image 0 has concept 0: nothing else can teach it
    targets[:, 1] = features[:, 0] > 0  # concept 1 follows a feature: learnable
    seen = fit_classifier(features, targets, l2=1e-3).predict(features, verbose=0)
    unseen = out_of_fold([features], targets, l2=1e-3)
    assert seen[0, 0] > 0.5 and unseen[0, 0] < 0.2
    accuracy = ((unseen[:, 1] > 0.5) == (targets[:, 1] > 0.5)).mean()
    assert accuracy >= 0.7  # chance: 0.5


def test_concept_captioner_names_the_colour_it_sees(model_dir, tmp_path):
    """The shipped shape end to end: held-out images' top concepts are their colour."""
    runs = sorted(model_dir.parent.glob("crun*/image/concepts_held_out.json"))
    top = {k: [w for w, _ in v] for k, v in json.loads(runs[0].read_text()).items()}
    colours = {"red", "green", "blue"}
    index = {int(name[3:-4]): words for name, words in top.items()}
    names = ["red", "green", "blue"]
    assert index and all(words[0] == names[i % 3] for i, words in index.items())
    assert all(set(words[1:]).isdisjoint(colours) for words in top.values())


@pytest.mark.parametrize("condition", ["state", "step"])
def test_head_variants_still_train_and_export(
    model_dir, caption_data, tiny_backbone, tmp_path, condition
):
    """The variants measured against the concept captioner keep working (card table)."""
    from bot.runtime.engine import InferenceEngine

    # The decoder: the session's plain caption LM run (captions.onnx's), only read here.
    lm_run = sorted(model_dir.parent.glob("crun*/lm"))[0]
    options = ["--condition", condition, "--epochs", "1", "--head-epochs", "1"]
    out = tmp_path / "out" / "captions_encoder.onnx"
    out.parent.mkdir()
    image_run = tmp_path / "image"
    train_image_captioner(caption_data, tiny_backbone, lm_run, image_run, out, *options)
    metrics = json.loads((image_run / "metrics.json").read_text())
    assert metrics["condition"] == condition and metrics["retrieval_images"] == 5
    engine = InferenceEngine(out.parent, prefer_gpu=False)
    for name in ("captions_encoder.onnx", "captions_image_decoder.onnx"):
        assert engine.load_file(out.parent / name).metadata.kind


def test_caption_card_reports_the_controls_and_the_concepts(model_dir, caption_data, tmp_path):
    import shutil

    from training.__main__ import main as training_main

    csv_path, images = caption_data
    for f in ("captions.onnx", "captions_encoder.onnx", "captions_image_decoder.onnx"):
        shutil.copy(model_dir / f, tmp_path / f)
    (tmp_path / "captions_loss.png").write_bytes(b"")
    image_run = sorted(model_dir.parent.glob("crun*/image"))[0]
    argv = ["card", "caption", "--model", str(tmp_path / "captions.onnx"), "--encoder"]
    argv += [str(tmp_path / "captions_encoder.onnx"), "--data", str(csv_path), "--images"]
    argv += [str(images), "--image-run", str(image_run), "--note", "A note."]
    assert training_main(argv) == 0
    card = (tmp_path / "captions.md").read_text()
    assert "| concepts, every step |" in card and "Control: a plain grey picture gets" in card
    assert "(concepts: red " in card or "(concepts: green " in card or "(concepts: blue " in card
    assert "A note." in card and "trained without these images' captions" in card
    assert (tmp_path / "captions_examples.png").stat().st_size > 1000
