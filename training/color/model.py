"""Colour-name -> RGB regressors: the tutorial's model and the variants measured against it."""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers, ops

from training.colorspace import srgb_to_lab


@dataclass(frozen=True)
class ColorVariant:
    """One row of the variants table; `padding` tells the encoder which side to pad."""

    name: str
    description: str
    padding: str  # "left" (tutorial) or "right" (masked)
    loss: str  # "mse" on RGB or "lab" (MSE in CIELAB / 100)
    embedding: int = 0  # 0: one-hot characters
    units: tuple[int, ...] = (256, 128)
    bidirectional: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    dense: int = 128


VARIANTS = {
    v.name: v
    for v in [
        ColorVariant(
            "tutorial", "one-hot, left pad, LSTM 256 > LSTM 128 > Dense 128, MSE", "left", "mse"
        ),
        ColorVariant(
            "tutorial_dropout", "tutorial + dropout 0.3 between layers", "left", "mse", dropout=0.3
        ),
        ColorVariant(
            "embed_mask",
            "embedding 32, right pad + mask, LSTM 128, dropout 0.3, MSE",
            "right",
            "mse",
            embedding=32,
            units=(128,),
            dropout=0.3,
        ),
        ColorVariant(
            "bilstm_mask",
            "embedding 32, mask, BiLSTM 128, dropout 0.3, MSE",
            "right",
            "mse",
            embedding=32,
            units=(128,),
            bidirectional=True,
            dropout=0.3,
        ),
        ColorVariant(
            "bilstm_lab",
            "embedding 32, mask, BiLSTM 128, dropout 0.3, MSE in CIELAB",
            "right",
            "lab",
            embedding=32,
            units=(128,),
            bidirectional=True,
            dropout=0.3,
        ),
        ColorVariant(
            "bilstm2_lab",
            "embedding 64, mask, 2 x BiLSTM 128, dropout 0.3, MSE in CIELAB",
            "right",
            "lab",
            embedding=64,
            units=(128, 128),
            bidirectional=True,
            dropout=0.3,
        ),
        ColorVariant(
            "tiny",
            "for tests and smoke runs: embedding 8, LSTM 8",
            "right",
            "lab",
            embedding=8,
            units=(8,),
            dense=8,
        ),
    ]
}
DEFAULT_VARIANT = "bilstm2_lab"


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
    rgb = layers.Dense(3, activation="sigmoid", name="rgb")(x)
    model = keras.Model(chars, rgb, name=f"color_{variant.name}")
    model.compile(optimizer="adam", loss=lab_mse if variant.loss == "lab" else "mse")
    return model
