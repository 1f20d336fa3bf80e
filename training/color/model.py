"""Colour-name -> RGB regressors: the tutorial's model and the variants measured against it."""

from __future__ import annotations

import keras
from keras import layers, ops

from training.color.variants import ColorVariant
from training.colorspace import srgb_to_lab


def lab_mse(y_true, y_pred):
    """MSE in CIELAB (scaled to ~unit range): errors are weighted as the eye weights them."""
    diff = (srgb_to_lab(y_true, ops) - srgb_to_lab(y_pred, ops)) / 100.0
    return ops.mean(ops.square(diff), axis=-1)


def build_color_model(variant: ColorVariant, vocab_size: int, max_length: int) -> keras.Model:
    """`vocab_size` counts the padding id 0."""
    chars = keras.Input(shape=(max_length,), dtype="int32", name="chars")
    if variant.embedding:
        x = layers.Embedding(vocab_size, variant.embedding, mask_zero=True, name="embed")(chars)
    else:
        x = layers.Lambda(
            lambda ids: ops.one_hot(ids, vocab_size),
            output_shape=(max_length, vocab_size),
            name="one_hot",
        )(chars)
    for i, units in enumerate(variant.units):
        last = i == len(variant.units) - 1
        lstm = layers.LSTM(
            units,
            return_sequences=not last,
            recurrent_dropout=variant.recurrent_dropout,
            name=f"lstm_{i}",
        )
        x = layers.Bidirectional(lstm, name=f"bilstm_{i}")(x) if variant.bidirectional else lstm(x)
        if variant.dropout:
            x = layers.Dropout(variant.dropout)(x)
    x = layers.Dense(variant.dense, activation="relu", name="hidden")(x)
    if variant.dropout:
        x = layers.Dropout(variant.dropout)(x)
    if variant.bins:
        output = layers.Dense(variant.bins, activation="softmax", name="bins")(x)
    else:
        output = layers.Dense(3, activation="sigmoid", name="rgb")(x)
    model = keras.Model(chars, output, name=f"color_{variant.name}")
    loss = {"lab": lab_mse, "bins": "categorical_crossentropy"}.get(variant.loss, "mse")
    model.compile(optimizer="adam", loss=loss)
    return model


def output_name(variant: ColorVariant) -> str:
    """The model's (and the ONNX graph's) output: `bins` probabilities or `rgb`."""
    return "bins" if variant.bins else "rgb"
