"""Stacked-LSTM language model, and the single-step twin that shares its weights.

Training runs whole sequences (every position predicts the next token); generation and
export use the step model, one token in, logits and the new (h, c) per layer out.
Optional per-step context inputs (for pixels: the pixel above, the column) are embedded
and concatenated with the token's embedding; text models have none.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import keras
import numpy as np
from keras import layers

CONTEXT_EMBEDDING = 16


@dataclass(frozen=True)
class LMConfig:
    vocab_size: int
    embedding: int = 64
    units: int = 256
    layers: int = 2
    dropout: float = 0.0
    contexts: tuple[int, ...] = field(default=())  # vocabulary size of each context input

    def __post_init__(self) -> None:
        object.__setattr__(self, "contexts", tuple(self.contexts))

    def as_dict(self) -> dict:
        values = asdict(self)
        values["contexts"] = list(self.contexts)
        return values


def state_names(config: LMConfig) -> list[tuple[str, str]]:
    """(input, output) names of the recurrent state, in order h0, c0, h1, c1, ..."""
    names = []
    for i in range(config.layers):
        names += [(f"h{i}_in", f"h{i}_out"), (f"c{i}_in", f"c{i}_out")]
    return names


def context_names(config: LMConfig) -> list[str]:
    return [f"context_{i}" for i in range(len(config.contexts))]


def _embed_inputs(config: LMConfig, tokens, contexts: list):
    x = layers.Embedding(config.vocab_size, config.embedding, name="embed")(tokens)
    parts = [x] + [
        layers.Embedding(size, CONTEXT_EMBEDDING, name=f"context_embed_{i}")(c)
        for i, (size, c) in enumerate(zip(config.contexts, contexts, strict=True))
    ]
    return layers.Concatenate(name="step_input")(parts) if contexts else x


def build_train_model(
    config: LMConfig, optimizer: keras.optimizers.Optimizer | None = None
) -> keras.Model:
    """The sequence model, compiled with `optimizer` (training's `make_optimizer`), or
    uncompiled with no optimizer state (export, fine-tuning's base, benchmarks)."""
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    contexts = [keras.Input(shape=(None,), dtype="int32", name=n) for n in context_names(config)]
    x = _embed_inputs(config, tokens, contexts)
    for i in range(config.layers):
        x = layers.LSTM(config.units, return_sequences=True, name=f"lstm_{i}")(x)
        if config.dropout:
            x = layers.Dropout(config.dropout)(x)
    logits = layers.Dense(config.vocab_size, name="logits")(x)
    model = keras.Model([tokens, *contexts] if contexts else tokens, logits, name="charlm")
    if optimizer is None:
        return model
    model.compile(
        optimizer=optimizer,
        # Averaged over the weighted positions only, so padded rows still give nats/token.
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction="mean_with_sample_weight"
        ),
    )
    return model


def build_step_model(config: LMConfig) -> keras.Model:
    """One step for a batch: tokens (B,), contexts (B,) and states (B, units) -> logits, states."""
    tokens = keras.Input(shape=(), dtype="int32", name="tokens", batch_size=None)
    contexts = [keras.Input(shape=(), dtype="int32", name=n) for n in context_names(config)]
    states_in = [keras.Input(shape=(config.units,), name=n) for n, _ in state_names(config)]
    x = _embed_inputs(config, tokens, contexts)
    width = config.embedding + CONTEXT_EMBEDDING * len(config.contexts)
    x = layers.Reshape((1, width))(x)
    states_out = []
    for i in range(config.layers):
        x, h, c = layers.LSTM(
            config.units, return_sequences=True, return_state=True, name=f"lstm_{i}"
        )(x, initial_state=[states_in[2 * i], states_in[2 * i + 1]])
        states_out += [h, c]
    x = layers.Reshape((config.units,))(x)
    logits = layers.Dense(config.vocab_size, name="logits")(x)
    return keras.Model([tokens, *contexts, *states_in], [logits, *states_out], name="charlm_step")


def copy_widened(source: keras.Model, target: keras.Model) -> list[str]:
    """Copy a model with fewer context inputs into `target`, which answers exactly as
    `source` did: the first LSTM's rows for the new contexts start at zero, their
    embeddings as initialised, so training learns to use them from the old model's loss.
    Returns what was widened or added, to report."""
    changes = []
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            old = source.get_layer(layer.name).get_weights()
        except ValueError:
            changes.append(f"{layer.name} new")
            continue
        new = layer.get_weights()
        if layer.name == "lstm_0" and old[0].shape[0] < new[0].shape[0]:
            kernel = np.zeros_like(new[0])
            kernel[: old[0].shape[0]] = old[0]
            changes.append(f"lstm_0 input rows {old[0].shape[0]} -> {kernel.shape[0]}")
            old = [kernel, *old[1:]]
        layer.set_weights(old)  # any other mismatch: Keras says which
    return changes


def copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy by layer name (embed, lstm_i, logits): the two graphs differ only in plumbing."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
