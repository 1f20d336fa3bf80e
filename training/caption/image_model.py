"""Show and Tell on frozen pretrained image features.

The backbone (MobileNetV2, see `backbone.py`) is not part of these Keras models: they
start from its features, computed once. A small head maps the features to what the
decoder is conditioned on, in one of three ways (all measured):

- `state`: the decoder's initial (h, c) per layer, as in Show and Tell;
- `step`: an image vector concatenated with the character embedding at every step. In the
  exported step graph the vector travels as one more state entry (`image_in` ->
  `image_out`, passed through unchanged), so the bot's generic pipeline (batcher, beam
  search) carries it like the LSTM state, with no new plumbing;
- `concepts`: as `step`, but the vector is made from predicted concept probabilities
  (`concepts.py`), and the decoder was pretrained to read them.

The decoder layers are named as in the caption language model and start from its
weights; for `step` the first LSTM's kernel gains rows for the image vector, set to zero,
so training starts exactly at the language model.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from training.tokenlm.model import LMConfig, state_names

CONDITIONS = ("state", "step", "concepts")
IMAGE_STATE = ("image_in", "image_out")
DECODER_LAYERS = ("embed", "logits")


def every_step(condition: str) -> bool:
    """Whether the image vector is fed with every character (else: the initial state)."""
    return condition != "state"


def head_outputs(config: LMConfig, condition: str) -> list[tuple[str, str, int]]:
    """(encoder output, decoder state input, size) for each conditioning tensor."""
    if not every_step(condition):
        return [(i.replace("_in", "_init"), i, config.units) for i, _ in state_names(config)]
    return [("image_init", IMAGE_STATE[0], config.embedding)]


def build_head(config: LMConfig, train_features: np.ndarray, condition: str, dropout: float):
    """Features (B, F) -> the conditioning tensors, in `head_outputs` order.

    The features are standardised with the training images' mean and variance (pooled
    activations reach 6 over hundreds of dimensions: raw, they saturate any tanh)."""
    features = keras.Input(shape=(train_features.shape[1],), name="features")
    x = Standardise(train_features, name="standardise")(features)
    x = layers.Dropout(dropout)(x) if dropout else x
    outputs = []
    for output, decoder_input, size in head_outputs(config, condition):
        is_cell = decoder_input.startswith("c")
        # A starting state must start near zero (the language model's own start). The
        # image vector may not: its LSTM rows start at zero, and if both started near
        # zero each would wait on the other for a gradient.
        small = keras.initializers.RandomNormal(stddev=0.001)
        outputs.append(
            layers.Dense(
                size,
                activation=None if is_cell else "tanh",
                kernel_initializer=small if condition == "state" else "glorot_uniform",
                name=output,
            )(x)
        )
    return keras.Model(features, outputs, name="head")


class Standardise(layers.Layer):
    """(x - mean) / std with the given data's statistics, kept as frozen weights (they
    export as constants and are saved with the model)."""

    def __init__(self, data: np.ndarray | None = None, **kwargs) -> None:
        super().__init__(trainable=False, **kwargs)
        self.data_stats = None
        if data is not None:
            std = data.std(axis=0)
            self.data_stats = (data.mean(axis=0), 1.0 / np.where(std > 1e-6, std, 1.0))

    def build(self, input_shape) -> None:
        width = input_shape[-1]
        self.mean = self.add_weight(shape=(width,), initializer="zeros", trainable=False)
        self.scale = self.add_weight(shape=(width,), initializer="ones", trainable=False)
        if self.data_stats is not None:
            self.mean.assign(self.data_stats[0].astype("float32"))
            self.scale.assign(self.data_stats[1].astype("float32"))

    def call(self, x):
        return (x - self.mean) * self.scale


class RepeatOverTime(layers.Layer):
    """(B, W) vector repeated along the time axis of a (B, T, ...) sequence."""

    def call(self, vector, sequence):
        steps = keras.ops.shape(sequence)[1]
        return keras.ops.repeat(keras.ops.expand_dims(vector, 1), steps, axis=1)


def _decoder(config: LMConfig, tokens, image, states, training_dropout: bool):
    """The stacked LSTM over embedded tokens (and the image vector, for `step`)."""
    x = layers.Embedding(config.vocab_size, config.embedding, name="embed")(tokens)
    if image is not None:
        x = layers.Concatenate(name="step_input")([x, RepeatOverTime()(image, x)])
    new_states = []
    for i in range(config.layers):
        initial = None if states is None else [states[2 * i], states[2 * i + 1]]
        x, h, c = layers.LSTM(
            config.units, return_sequences=True, return_state=True, name=f"lstm_{i}"
        )(x, initial_state=initial)
        new_states += [h, c]
        if training_dropout and config.dropout:
            x = layers.Dropout(config.dropout)(x)
    return layers.Dense(config.vocab_size, name="logits")(x), new_states


def build_captioner(config: LMConfig, head: keras.Model, condition: str) -> keras.Model:
    """Features + caption tokens -> logits (the training model)."""
    features = keras.Input(shape=head.input_shape[1:], name="features")
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    conditioning = head(features)
    if not isinstance(conditioning, list | tuple):
        conditioning = [conditioning]
    states, image = (None, conditioning[0]) if every_step(condition) else (conditioning, None)
    logits, _ = _decoder(config, tokens, image, states, training_dropout=True)
    return keras.Model([features, tokens], logits, name="captioner")


def build_decoder_step(config: LMConfig, condition: str) -> keras.Model:
    """One step: tokens (B,), states (and `image_in`) -> logits, new states (`image_out`)."""
    tokens = keras.Input(shape=(1,), dtype="int32", name="tokens")
    states_in = [keras.Input(shape=(config.units,), name=n) for n, _ in state_names(config)]
    image = None
    if every_step(condition):
        image = keras.Input(shape=(config.embedding,), name=IMAGE_STATE[0])
    logits, states_out = _decoder(config, tokens, image, states_in, training_dropout=False)
    logits = layers.Reshape((config.vocab_size,))(logits)
    inputs = [tokens, *states_in] + ([image] if image is not None else [])
    outputs = [logits, *states_out] + ([layers.Identity()(image)] if image is not None else [])
    return keras.Model(inputs, outputs, name="caption_decoder_step")


def decoder_layer_names(layers_count: int) -> list[str]:
    return [*DECODER_LAYERS, *(f"lstm_{i}" for i in range(layers_count))]


def copy_decoder(source: keras.Model, target: keras.Model, layers_count: int) -> None:
    """Copy the decoder by layer name; a wider first LSTM input gets zero rows for the
    extra (image) inputs, so the target starts as the source."""
    for name in decoder_layer_names(layers_count):
        weights = source.get_layer(name).get_weights()
        wanted = [w.shape for w in target.get_layer(name).get_weights()]
        if name == "lstm_0" and wanted[0][0] > weights[0].shape[0]:
            extra = np.zeros((wanted[0][0] - weights[0].shape[0], wanted[0][1]), np.float32)
            weights[0] = np.concatenate([weights[0], extra])
        target.get_layer(name).set_weights(weights)


def set_decoder_trainable(captioner: keras.Model, layers_count: int, only: set[str] | None) -> None:
    """Which decoder layers learn: all (`only` None), or just those named in `only`."""
    for name in decoder_layer_names(layers_count):
        captioner.get_layer(name).trainable = only is None or name in only
