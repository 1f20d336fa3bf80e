"""Concepts: the content words a picture makes likely, as the captioner's bridge to the image.

A decoder fine-tuned on 810 photos learns their captions faster than it learns to look
(measured: own image 2.1% below another image). So the picture reaches the decoder
through a vector of concept probabilities (p("dog"), p("snow"), ... for the commonest
content words of captions):

- the decoder is pretrained on tens of thousands of captions of *other* images, each
  given the concepts of the other captions of its image (leave one out, shrunk toward
  the prior by a random amount), so it learns from plenty of text how to use concepts
  that are informative but not exact;
- a small classifier on the frozen MobileNetV2 features predicts the concepts of a
  photo (multi-label logistic regression, trained on both the photo and its mirror);
- fine-tuning gives the decoder the classifier's out-of-fold predictions for the
  training photos, so it meets the same noise it meets on new photos.
"""

from __future__ import annotations

import re
from collections import Counter

import keras
import numpy as np

from bot.text.captions import FUNCTION_WORDS
from training.caption.image_model import Standardise

CONCEPTS = 300
# Words that say nothing about a picture: the captions' function words, and a few more.
STOP_WORDS = FUNCTION_WORDS | {
    "another", "as", "down", "into", "it", "one", "other", "out", "over", "some", "that",
    "there", "this", "three", "two", "up", "while",
}  # fmt: skip


def caption_words(text: str) -> set[str]:
    """The content words of a caption (no function words, no single letters)."""
    return {w for w in re.findall(r"[a-z]+", text) if w not in STOP_WORDS and len(w) > 1}


def concept_list(texts: list[list[str]], size: int = CONCEPTS) -> list[str]:
    """The `size` words in the most images' captions (document frequency by image)."""
    counts: Counter = Counter()
    for captions in texts:
        counts.update(set().union(*(caption_words(t) for t in captions)))
    return [w for w, _ in counts.most_common(size)]


def indicator(concepts: list[str], text: str) -> np.ndarray:
    """1 for each concept the caption mentions."""
    index = {w: i for i, w in enumerate(concepts)}
    v = np.zeros(len(concepts), np.float32)
    for w in caption_words(text):
        if w in index:
            v[index[w]] = 1.0
    return v


def image_targets(concepts: list[str], captions: list[str]) -> np.ndarray:
    """Share of an image's captions that mention each concept (the classifier's target)."""
    return np.mean([indicator(concepts, t) for t in captions], axis=0)


def leave_one_out(
    concepts: list[str], groups: list[list[str]], prior: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One concept vector per caption, from the other captions of its image, shrunk toward
    `prior` by a random weight in [0.2, 1] (a classifier is never as sure as four people)."""
    rows = []
    for captions in groups:
        marks = np.stack([indicator(concepts, t) for t in captions])
        total = marks.sum(axis=0)
        for row in marks:
            others = len(captions) - 1
            loo = (total - row) / others if others else prior
            weight = rng.uniform(0.2, 1.0)
            rows.append(weight * loo + (1 - weight) * prior)
    return np.stack(rows).astype(np.float32)


def build_classifier(train_features: np.ndarray, concepts: int, l2: float) -> keras.Model:
    """Frozen features -> concept probabilities (standardised, then one sigmoid layer)."""
    features = keras.Input(shape=(train_features.shape[1],), name="features")
    x = Standardise(train_features, name="standardise")(features)
    probabilities = keras.layers.Dense(
        concepts,
        activation="sigmoid",
        kernel_regularizer=keras.regularizers.L2(l2 / (2 * concepts)),
        kernel_initializer="zeros",
        name="concepts",
    )(x)
    return keras.Model(features, probabilities, name="concept_classifier")


def fit_classifier(
    features: np.ndarray, targets: np.ndarray, l2: float, steps: int = 300
) -> keras.Model:
    """Full-batch Adam on binary cross-entropy against the soft targets; `features` may hold
    several views of each image (rows repeat `targets` as needed)."""
    model = build_classifier(features, targets.shape[1], l2)
    prior = np.clip(targets.mean(axis=0), 1e-3, 1 - 1e-3)
    dense = model.get_layer("concepts")
    dense.bias.assign(np.log(prior / (1 - prior)).astype(np.float32))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    # One epoch of `steps` full batches: the same data each step, without Keras's
    # per-epoch overhead (most of the time for 300 small epochs).
    batches = ((features, targets) for _ in range(steps))
    model.fit(batches, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
    return model


def out_of_fold(
    views: list[np.ndarray], targets: np.ndarray, l2: float, folds: int = 5
) -> np.ndarray:
    """Each training image's concepts predicted by a classifier that never saw it."""
    predicted = np.zeros_like(targets)
    fold = np.arange(len(targets)) % folds
    for k in range(folds):
        train = fold != k
        model = fit_classifier(
            np.concatenate([v[train] for v in views]), np.tile(targets[train], (len(views), 1)), l2
        )
        predicted[~train] = model.predict(views[0][~train], verbose=0)
    return predicted


def concept_head(concepts: int, width: int) -> keras.Model:
    """Concept probabilities -> the image vector the decoder reads at every step."""
    probabilities = keras.Input(shape=(concepts,), name="concepts")
    vector = keras.layers.Dense(width, name="image_init")(probabilities)
    return keras.Model(probabilities, vector, name="head")


def encoder_head(classifier: keras.Model, head: keras.Model) -> keras.Model:
    """Features -> image vector: the classifier and the decoder's concept head in one."""
    features = keras.Input(shape=classifier.input_shape[1:], name="features")
    return keras.Model(features, head(classifier(features)), name="encoder_head")
