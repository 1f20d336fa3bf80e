"""The masked colour models as a hand-built ONNX graph on the native `LSTM` op.

tf2onnx turns a masked or bidirectional Keras LSTM into `Loop` ops that run about 5,000
small nodes per name (the shipped model: 8-17 ms a prediction on 2 CPU cores). ONNX's own
`LSTM` op with `sequence_lens` computes the same thing in one kernel per layer (22 nodes,
about 1 ms on the same cores; see the re-export command in `training.color.export`).

The graph reproduces Keras for right-padded ids, which is what `encode_names` gives these
variants (unknown characters are dropped, never written as 0): the mask is then "the first
`n` ids are characters", so `n` = the count of nonzero ids is the sequence length. A row
of only padding, which Keras reads as an all-masked sequence with zero final states, is
run as length 1 (the op wants at least 1) and its final states multiplied by zero, so it
gets Keras' answer too.
"""

from __future__ import annotations

import keras
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from training.color.model import output_name
from training.color.variants import ColorVariant
from training.lstm_weights import keras_lstm_weights, onnx_lstm_weights
from training.onnx_export import OPSET


def supports_native(variant: ColorVariant) -> bool:
    """The masked (embedding, right-padded) variants; the one-hot tutorial ones keep tf2onnx."""
    return variant.embedding > 0 and variant.padding == "right"


def _recurrent_layer(model: keras.Model, variant: ColorVariant, index: int) -> keras.Layer:
    return model.get_layer(f"bilstm_{index}" if variant.bidirectional else f"lstm_{index}")


def _cells(model: keras.Model, variant: ColorVariant, index: int) -> list:
    """(kernel, recurrent_kernel, bias) per direction of recurrent layer `index`, forward first."""
    weights = _recurrent_layer(model, variant, index).get_weights()
    return [tuple(weights[i : i + 3]) for i in range(0, len(weights), 3)]


def load_native_weights(
    model: keras.Model, variant: ColorVariant, tensors: dict[str, np.ndarray]
) -> None:
    """Set `model`'s weights from the initializers of a graph that `color_graph` wrote."""
    model.get_layer("embed").set_weights([tensors["embed/embeddings"]])
    for i in range(len(variant.units)):
        cells = keras_lstm_weights(*(tensors[f"lstm_{i}/{key}"] for key in "WRB"))
        _recurrent_layer(model, variant, i).set_weights([a for cell in cells for a in cell])
    for name in ("hidden", output_name(variant)):
        model.get_layer(name).set_weights([tensors[f"{name}/kernel"], tensors[f"{name}/bias"]])


class _Graph:
    """Collects nodes and initializers; each helper returns the name of its output."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], output: str, **attributes) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attributes))
        return output

    def lstm(self, x: str, lengths: str, cells: list, name: str, last: bool) -> str:
        """One (bi)LSTM layer on time-major `x`; returns (seq, batch, dirs*h) or (batch, dirs*h).

        Directions are concatenated forward then backward, as Keras' Bidirectional does.
        The last layer returns Y_h: the forward state at each row's last character and the
        backward state after reading its first, which is Keras' masked final output.
        """
        w, r, b = onnx_lstm_weights(cells)
        dirs, hidden = w.shape[0], w.shape[1] // 4
        weights = [self.constant(f"{name}/{key}", v) for key, v in {"W": w, "R": r, "B": b}.items()]
        outputs = ["", f"{name}/Y_h"] if last else [f"{name}/Y"]
        direction = "bidirectional" if dirs == 2 else "forward"
        self.nodes.append(
            helper.make_node(
                "LSTM",
                [x, *weights, lengths],
                outputs,
                name=name,
                hidden_size=hidden,
                direction=direction,
            )
        )
        if last:  # Y_h: (dirs, batch, h) -> (batch, dirs * h)
            y = self.op("Transpose", [outputs[1]], f"{name}/batch_major", perm=[1, 0, 2])
            shape = np.array([0, dirs * hidden], np.int64)
        else:  # Y: (seq, dirs, batch, h) -> (seq, batch, dirs * h)
            y = self.op("Transpose", [outputs[0]], f"{name}/dirs_inner", perm=[0, 2, 1, 3])
            shape = np.array([0, 0, dirs * hidden], np.int64)
        return self.op("Reshape", [y, self.constant(f"{name}/shape", shape)], f"{name}/out")

    def dense(self, x: str, layer: keras.layers.Dense, activation: str) -> str:
        kernel, bias = (w.astype(np.float32) for w in layer.get_weights())
        name = layer.name
        x = self.op("MatMul", [x, self.constant(f"{name}/kernel", kernel)], f"{name}/matmul")
        x = self.op("Add", [x, self.constant(f"{name}/bias", bias)], f"{name}/add")
        return self.op(activation, [x], name)


def _lengths(graph: _Graph, chars: str) -> tuple[str, str]:
    """`sequence_lens` (batch,) int32, at least 1, and 'has characters' (batch, 1) 1.0 / 0.0.

    The op stops at the batch's longest name by itself (cutting `chars` to it first
    measured no faster), so a short name costs only its own steps.
    """
    zero = graph.constant("zero", np.array(0, np.int32))
    is_char = graph.op("Greater", [chars, zero], "is_char")
    is_char = graph.op("Cast", [is_char], "is_char_int", to=TensorProto.INT32)
    time_axis = graph.constant("time_axis", np.array([1], np.int64))
    count = graph.op("ReduceSum", [is_char, time_axis], "n_chars", keepdims=0)
    lengths = graph.op("Max", [count, graph.constant("one", np.array(1, np.int32))], "lengths")
    nonempty = graph.op("Greater", [count, zero], "nonempty")
    nonempty = graph.op("Cast", [nonempty], "nonempty_float", to=TensorProto.FLOAT)
    return lengths, graph.op("Unsqueeze", [nonempty, time_axis], "nonempty_column")


def color_graph(model: keras.Model, variant: ColorVariant, max_length: int) -> onnx.ModelProto:
    """`chars` int32 (batch, max_length) -> `rgb` float (batch, 3), or `bins` (batch, bins)
    probabilities, from the model's weights."""
    if not supports_native(variant):
        raise ValueError(f"variant {variant.name!r} is not a masked embedding model")
    graph = _Graph()
    lengths, nonempty = _lengths(graph, "chars")
    table = model.get_layer("embed").get_weights()[0].astype(np.float32)
    x = graph.op("Gather", [graph.constant("embed/embeddings", table), "chars"], "embed")
    x = graph.op("Transpose", [x], "time_major", perm=[1, 0, 2])
    for i in range(len(variant.units)):
        last = i == len(variant.units) - 1
        x = graph.lstm(x, lengths, _cells(model, variant, i), f"lstm_{i}", last)
    x = graph.op("Mul", [x, nonempty], "final_states")
    x = graph.dense(x, model.get_layer("hidden"), "Relu")
    output = output_name(variant)
    width = variant.bins or 3
    graph.dense(x, model.get_layer(output), "Softmax" if variant.bins else "Sigmoid")
    proto = helper.make_model(
        helper.make_graph(
            graph.nodes,
            model.name,
            [helper.make_tensor_value_info("chars", TensorProto.INT32, ["batch", max_length])],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", width])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="training.color.onnx_graph",
        ir_version=8,
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto
