"""The pretrained MobileNetV2 backbone: conversion, batching, and that it really sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.images import image_pixels, open_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TFLITE = SHARED / "pretrained" / "mobilenet_v2_1.0_224_quant.tflite"
PHOTOS = SHARED / "captions" / "images"
# Flickr8k photos whose five captions all say "dog" / "horse".
DOGS = [
    "1001773457_577c3a7d70.jpg",
    "1012212859_01547e3f17.jpg",
    "1015584366_dfcec3c85a.jpg",
    "1019077836_6fc9b15408.jpg",
]
HORSE = "10815824_2997e03d76.jpg"
DOG_CLASSES = range(152, 270)  # ImageNet's dog breeds, in the 1,001-class order
SORREL = 340


@pytest.fixture(scope="module")
def backbone():
    if not TFLITE.exists():
        pytest.skip("../shared/data/pretrained is not here")
    from training.caption.backbone import Backbone, convert_backbone

    return Backbone(convert_backbone(TFLITE))


def pixels(names: list[str]) -> np.ndarray:
    return np.stack([image_pixels(open_image((PHOTOS / n).read_bytes()), 224) for n in names])


def test_backbone_sees_dogs_and_horses(backbone):
    out = backbone(pixels([*DOGS, HORSE]))
    top = out["classes"].argmax(axis=1)
    assert all(t in DOG_CLASSES for t in top[:4]), top
    assert top[4] == SORREL
    # The control: a plain grey picture is not confidently anything, least of all a dog.
    grey = backbone(np.full((1, 224, 224, 3), 128, np.uint8))["classes"][0]
    assert grey.max() < 0.5 and grey[list(DOG_CLASSES)].sum() < 0.5


def test_backbone_batches_any_size_with_the_same_answers(backbone):
    batch = pixels(DOGS[:3])
    together = backbone(batch)
    alone = backbone(batch[1:2])
    assert together["features"].shape == (3, 1280) and together["classes"].shape == (3, 1001)
    np.testing.assert_allclose(together["features"][1], alone["features"][0], atol=1e-6)
    np.testing.assert_allclose(together["classes"].sum(axis=1), 1.0, atol=1e-4)
    assert (together["features"] >= 0).all()  # pooled ReLU6 activations


def test_image_pixels_is_the_centre_square():
    from PIL import Image

    wide = Image.new("RGB", (300, 100), (255, 0, 0))
    wide.paste((0, 0, 255), (100, 0, 200, 100))  # the middle third is blue
    out = image_pixels(wide, 32)
    assert out.dtype == np.uint8 and out.shape == (32, 32, 3)
    assert (out[:, :, 2] > 200).all() and (out[:, :, 0] < 50).all()
