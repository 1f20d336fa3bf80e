"""The weights of one LSTM layer as Keras and as ONNX's native `LSTM` op hold them, both
ways: the colour models' hand-built graphs write them, and a language model's step graph
is read back into Keras through them."""

from __future__ import annotations

import numpy as np

# Keras stacks an LSTM's gates as (i, f, c, o), ONNX as (i, o, f, c).
KERAS_GATES_FOR_ONNX = (0, 3, 1, 2)


def onnx_lstm_weights(
    cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W, R, B of one ONNX LSTM from the Keras (kernel, recurrent_kernel, bias) per direction.

    Keras: kernel (input, 4h), recurrent_kernel (h, 4h), bias (4h), gates i, f, c, o.
    ONNX: W (dirs, 4h, input), R (dirs, 4h, h), B (dirs, 8h) = input bias then recurrent
    bias (zeros here: Keras has one bias), gates i, o, f, c.
    """

    def reorder(matrix: np.ndarray) -> np.ndarray:
        gates = np.split(matrix, 4, axis=-1)
        return np.concatenate([gates[g] for g in KERAS_GATES_FOR_ONNX], axis=-1)

    w = np.stack([reorder(kernel).T for kernel, _, _ in cells])
    r = np.stack([reorder(recurrent).T for _, recurrent, _ in cells])
    b = np.stack([np.concatenate([reorder(bias), np.zeros_like(bias)]) for _, _, bias in cells])
    return w.astype(np.float32), r.astype(np.float32), b.astype(np.float32)


def keras_lstm_weights(
    w: np.ndarray, r: np.ndarray, b: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The inverse of `onnx_lstm_weights`; ONNX adds its two biases, so Keras gets their sum."""
    hidden = w.shape[1] // 4
    keras_order = np.argsort(KERAS_GATES_FOR_ONNX)

    def reorder(matrix: np.ndarray) -> np.ndarray:
        gates = np.split(matrix, 4, axis=-1)
        return np.concatenate([gates[g] for g in keras_order], axis=-1)

    return [
        (reorder(w[d].T), reorder(r[d].T), reorder(b[d, : 4 * hidden] + b[d, 4 * hidden :]))
        for d in range(w.shape[0])
    ]
