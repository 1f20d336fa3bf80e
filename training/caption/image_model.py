"""Show-and-Tell style captioner: a small CNN encodes the image into the decoder's
initial (h, c) per layer; the decoder is the pretrained caption language model."""

from __future__ import annotations

import keras
from keras import layers

from training.charlm.model import LMConfig, state_names


def build_encoder(config: LMConfig, image_size: int, augment: bool = True) -> keras.Model:
    image = keras.Input(shape=(image_size, image_size, 3), name="image")
    x = image
    if augment:  # active only while training
        x = layers.RandomFlip("horizontal")(x)
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="reflect")(x)
        x = layers.RandomZoom(0.15, fill_mode="reflect")(x)
        x = layers.RandomContrast(0.2)(x)
    for filters in (32, 64, 128, 192):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    states = []
    for input_name, _ in state_names(config):
        kind = "h" if input_name.startswith("h") else "c"
        states.append(
            layers.Dense(
                config.units,
                activation="tanh" if kind == "h" else None,
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
                name=input_name.replace("_in", "_init"),
            )(x)
        )
    return keras.Model(image, states, name="encoder")


def build_captioner(config: LMConfig, encoder: keras.Model) -> keras.Model:
    """Image + caption tokens -> logits; decoder layers named as in the language model."""
    image = keras.Input(shape=encoder.input_shape[1:], name="image")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    states = encoder(image)
    x = layers.Embedding(config.vocab_size, config.embedding, name="embed")(tokens)
    for i in range(config.layers):
        x = layers.LSTM(config.units, return_sequences=True, name=f"lstm_{i}")(
            x, initial_state=[states[2 * i], states[2 * i + 1]]
        )
    logits = layers.Dense(config.vocab_size, name="logits")(x)
    return keras.Model([image, tokens], logits, name="captioner")


DECODER_LAYERS = ("embed", "logits")


def decoder_layer_names(layers_count: int) -> list[str]:
    return [*DECODER_LAYERS, *(f"lstm_{i}" for i in range(layers_count))]


def copy_decoder(source: keras.Model, target: keras.Model, layers_count: int) -> None:
    for name in decoder_layer_names(layers_count):
        target.get_layer(name).set_weights(source.get_layer(name).get_weights())


def load_decoder(
    captioner: keras.Model, language_model: keras.Model, layers_count: int, freeze: bool
) -> None:
    """Start from the pretrained decoder; frozen, only the encoder learns from images."""
    copy_decoder(language_model, captioner, layers_count)
    for name in decoder_layer_names(layers_count):
        captioner.get_layer(name).trainable = not freeze
