"""The colour-to-name model: a character LM that reads the colour (CIELAB) at every step.

It is the `step` captioner of `training.caption.image_model` with a colour in place of the
image: a small head turns L*a*b* / 100 into a vector concatenated with every character's
embedding. The exported step graph holds the head too, and carries the colour as one
more state entry (`color_in` -> `color_out`), so the bot's batcher and sampler serve it
like any other language model.
"""

from __future__ import annotations

import keras
from keras import layers

from training.caption.image_model import _decoder, build_captioner
from training.tokenlm.model import LMConfig, state_names

COLOR_STATE = ("color_in", "color_out")


def color_head(width: int) -> keras.Model:
    """CIELAB / 100 (3,) -> the vector the decoder reads with every character."""
    lab = keras.Input(shape=(3,), name="lab")
    x = layers.Dense(64, activation="relu", name="color_hidden")(lab)
    return keras.Model(lab, layers.Dense(width, name="image_init")(x), name="head")


def build_name_model(config: LMConfig) -> keras.Model:
    """[lab (B, 3), tokens (B, T)] -> logits (B, T, vocabulary)."""
    return build_captioner(config, color_head(config.embedding), "step")


def build_name_step(config: LMConfig, head: keras.Model) -> keras.Model:
    """tokens (B, 1), states, `color_in` (B, 3) -> logits, new states, `color_out`."""
    tokens = keras.Input(shape=(1,), dtype="int32", name="tokens")
    states = [keras.Input(shape=(config.units,), name=n) for n, _ in state_names(config)]
    color = keras.Input(shape=(3,), name=COLOR_STATE[0])
    logits, new_states = _decoder(config, tokens, head(color), states, training_dropout=False)
    logits = layers.Reshape((config.vocab_size,))(logits)
    outputs = [logits, *new_states, layers.Identity()(color)]
    return keras.Model([tokens, *states, color], outputs, name="name_step")
