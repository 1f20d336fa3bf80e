"""A language model's Keras weights, read back from its exported step graph.

A step graph (`export_run`) holds every weight: the embedding and the output layer as
tf2onnx named them, each LSTM layer as a native ONNX `LSTM` node's W, R and B. So an
exported file with no Keras weights beside it (the shipped caption model) can still be
the base of a fine-tune. Plain models only: no context inputs, float (not int8) weights.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import onnx
from onnx import numpy_helper

from training.errors import UserError
from training.lstm_weights import keras_lstm_weights
from training.tokenlm.model import LMConfig


def load_step_weights(model: keras.Model, config: LMConfig, path: Path, prefix: str = "") -> None:
    """Set `model`'s (a `build_train_model` of `config`) weights from the file at `path`;
    from a mixture (`ensemble write`), those of the member whose names start with `prefix`."""
    if config.contexts:
        raise UserError(f"{path.name} reads context inputs; its weights are not read back")
    graph = onnx.load(path).graph
    tensors = {
        t.name: numpy_helper.to_array(t) for t in graph.initializer if t.name.startswith(prefix)
    }

    def one(pattern: str):
        found = [v for k, v in tensors.items() if re.search(pattern, k)]
        if len(found) != 1:
            raise UserError(
                f"{path.name}: expected one weight matching {pattern!r}, found {len(found)} "
                "(an int8 file cannot be a base; pass its run directory)"
            )
        return found[0]

    model.get_layer("embed").set_weights([one(r"/embed(_\d+)?/GatherV2/ReadVariableOp")])
    model.get_layer("logits").set_weights(
        [one(r"/logits(_\d+)?/Cast/ReadVariableOp"), one(r"/logits(_\d+)?/BiasAdd/ReadVariableOp")]
    )
    lstms = [n for n in graph.node if n.op_type == "LSTM" and n.name.startswith(prefix)]
    for i in range(config.layers):
        nodes = [n for n in lstms if re.search(rf"/lstm_{i}(_\d+)?/", n.input[0])]
        if len(nodes) != 1:
            raise UserError(
                f"{path.name}: expected one LSTM node for layer {i}, found {len(nodes)}"
            )
        ((kernel, recurrent, bias),) = keras_lstm_weights(
            *(tensors[name] for name in nodes[0].input[1:4])
        )
        model.get_layer(f"lstm_{i}").set_weights([kernel, recurrent, bias])
