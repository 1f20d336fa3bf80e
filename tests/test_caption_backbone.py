"""The image backbone: conversion, batching, and that the real MobileNetV2 really sees.

Everything but one test runs on the tiny stand-in that conftest builds (same interface);
the real file is a download (`python -m training data fetch mobilenet-v2`) into `data/`,
which a fresh clone does not have, so the one test that needs it says so and skips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.images import image_pixels, open_image

DATA = Path(__file__).resolve().parents[1] / "data"
TFLITE = DATA / "pretrained" / "mobilenet_v2_1.0_224_quant.tflite"
PHOTOS = DATA / "captions" / "images"
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
def backbone(tiny_backbone):
    from training.caption.backbone import Backbone, convert_backbone

    return Backbone(convert_backbone(tiny_backbone))


@pytest.fixture(scope="module")
def real_backbone():
    missing = [p for p in (TFLITE, *(PHOTOS / n for n in [*DOGS, HORSE])) if not p.is_file()]
    if missing:
        pytest.skip(
            f"needs the real MobileNetV2 and Flickr8k photos under data/ ({missing[0]} is "
            "missing): python -m training data fetch mobilenet-v2 flickr8k-images"
        )
    from training.caption.backbone import Backbone, convert_backbone

    return Backbone(convert_backbone(TFLITE))


def photos(names: list[str]) -> np.ndarray:
    return np.stack([image_pixels(open_image((PHOTOS / n).read_bytes()), 224) for n in names])


def noise(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 224, 224, 3), dtype=np.uint8)


def plain(*colours: tuple[int, int, int]) -> np.ndarray:
    return np.stack([np.full((224, 224, 3), c, np.uint8) for c in colours])


def test_real_backbone_sees_dogs_and_horses(real_backbone):
    out = real_backbone(photos([*DOGS, HORSE]), batch=2)
    top = out["classes"].argmax(axis=1)
    assert all(t in DOG_CLASSES for t in top[:4]), top
    assert top[4] == SORREL
    assert out["features"].shape == (5, 1280) and out["classes"].shape == (5, 1001)
    alone = real_backbone(photos([DOGS[1]]))
    np.testing.assert_allclose(out["features"][1], alone["features"][0], atol=1e-6)
    # The control: a plain grey picture is not confidently anything, least of all a dog.
    grey = real_backbone(plain((128, 128, 128)))["classes"][0]
    assert grey.max() < 0.5 and grey[list(DOG_CLASSES)].sum() < 0.5


def test_tiny_backbone_has_the_real_interface(tiny_backbone, backbone):
    """What the code relies on: a batch-1 uint8 TFLite file, and after conversion an ONNX
    graph `image` (batch, 224, 224, 3) uint8 -> `features` (batch, 1280), `classes`
    (batch, 1001), the input quantised as MobileNetV2's ([-1, 1] in 1/128 steps)."""
    import onnx
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(tiny_backbone))
    (given,), (answer,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert list(given["shape"]) == [1, 224, 224, 3] and given["dtype"] == np.uint8
    assert given["quantization"] == pytest.approx((1 / 128, 128))
    assert list(answer["shape"]) == [1, 1001] and answer["dtype"] == np.uint8
    graph = backbone.proto.graph
    (image,) = graph.input
    assert image.name == "image" and image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim]
    assert dims == ["batch", 224, 224, 3]
    assert [o.name for o in graph.output] == ["features", "classes"]


def test_converted_backbone_gives_the_tflite_answers(tiny_backbone, backbone):
    """tf2onnx's graph, made batch-free, agrees with the TFLite interpreter up to the
    rounding of the file's uint8 output (the ONNX graph stops before that rounding)."""
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(tiny_backbone))
    interpreter.allocate_tensors()
    (given,), (answer,) = interpreter.get_input_details(), interpreter.get_output_details()
    pixels = np.concatenate([noise(2), plain((220, 30, 30), (30, 40, 220))])
    converted = backbone(pixels)["classes"]
    for row, image in zip(converted, pixels, strict=True):
        interpreter.set_tensor(given["index"], image[None])
        interpreter.invoke()
        expected = interpreter.get_tensor(answer["index"])[0] * answer["quantization"][0]
        np.testing.assert_allclose(row, expected, atol=answer["quantization"][0])


def test_backbone_batches_any_size_with_the_same_answers(backbone):
    batch = noise(3)
    together = backbone(batch, batch=2)
    alone = backbone(batch[1:2])
    assert together["features"].shape == (3, 1280) and together["classes"].shape == (3, 1001)
    np.testing.assert_allclose(together["features"][1], alone["features"][0], atol=1e-6)
    np.testing.assert_allclose(together["classes"].sum(axis=1), 1.0, atol=1e-4)
    assert (together["features"] >= 0).all()  # pooled ReLU6 activations


def test_tiny_backbone_tells_plain_colours_apart(backbone):
    """What the caption tests need of it: red, green and blue get clearly different features."""
    features = backbone(plain((220, 30, 30), (30, 200, 40), (30, 40, 220)))["features"]
    distances = np.abs(features[:, None] - features[None]).mean(axis=2)
    assert distances[~np.eye(3, dtype=bool)].min() > 0.1 * features.mean()


def test_default_backbone_is_the_fetched_file_and_a_missing_one_says_how(tmp_path, monkeypatch):
    from training.__main__ import build_parser
    from training.caption.backbone import convert_backbone
    from training.data_fetch import DEFAULT_DEST, load_manifest
    from training.errors import UserError

    argv = ["train", "caption-image", "--decoder-run", "r", "--captions", "c.csv"]
    default = build_parser().parse_args([*argv, "--images", "i", "--run-dir", "r"]).backbone
    (fetched,) = load_manifest()["mobilenet-v2"].files
    assert default == DEFAULT_DEST / fetched
    monkeypatch.chdir(tmp_path)  # a clone that has not fetched it
    with pytest.raises(UserError, match="python -m training data fetch mobilenet-v2"):
        convert_backbone(default)


def test_image_pixels_is_the_centre_square():
    from PIL import Image

    wide = Image.new("RGB", (300, 100), (255, 0, 0))
    wide.paste((0, 0, 255), (100, 0, 200, 100))  # the middle third is blue
    out = image_pixels(wide, 32)
    assert out.dtype == np.uint8 and out.shape == (32, 32, 3)
    assert (out[:, :, 2] > 200).all() and (out[:, :, 0] < 50).all()
