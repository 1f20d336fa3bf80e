"""Int8 step graphs whose activations have fixed scales, so that a batch row's answer
never depends on the other rows in the batch, nor on the thread count.

onnxruntime's dynamic quantisation (`DynamicQuantizeLSTM`, `DynamicQuantizeLinear` in
front of `MatMulInteger`) quantises each call's activations with one scale for the whole
tensor. In a batch of many users that scale is set by the row with the largest value, so
the same seed wrote a different text when others were writing at the same time, and a
different one again on another number of threads.

A step model's activations have bounds known in advance: an LSTM's output
`h = o * tanh(c)` lies in (-1, 1), and an embedding's values are those of its table. So
each product's input is quantised with a fixed scale (its bound / 127, zero point 128):
no per-call reduction, the integer product is exact, and everything after it is
element-wise within a row. A step LSTM becomes one product of `[x, h]` with
`[W * s_x; R * s_h]` (int8 again, one scale per output column) and its gates; the output
layer keeps its int8 weights as they are.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from training.errors import UserError

STATIC = "int8 weights and fixed activation scales (a row's answer is the same in any batch)"
_DOMAIN = "com.microsoft"
_ZERO_POINT = 128  # uint8 activations, symmetric about 128
_LSTM_ACTIVATIONS = [b"Sigmoid", b"Tanh", b"Tanh"]
# reductions whose `axes` became an input at opset 18, which the rewritten graph is at
_AXES_INPUT_AT_18 = {"ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceLogSum",
                     "ReduceLogSumExp", "ReduceL1", "ReduceL2", "ReduceSumSquare"}  # fmt: skip
_VIEWS = {"Reshape", "Squeeze", "Unsqueeze"}
_PASS_THROUGH = _VIEWS | {"Transpose", "Identity", "Flatten"}


class _Graph:
    """The graph being rewritten: its constants and producers, and the new nodes."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.graph = model.graph
        self.constants = {i.name: numpy_helper.to_array(i) for i in self.graph.initializer}
        self.producer = {o: n for n in self.graph.node for o in n.output}
        inferred = onnx.shape_inference.infer_shapes(model).graph
        self.shape = {
            v.name: [d.dim_value or None for d in v.type.tensor_type.shape.dim]
            for v in [*inferred.value_info, *inferred.input, *inferred.output]
        }
        self.flat: dict[str, str] = {}  # an LSTM output -> the (batch, units) tensor it views
        self.dropped: set[int] = set()  # nodes whose output a rewrite now produces itself
        self.nodes: list[onnx.NodeProto] = []
        self.new_constants: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"static{self._count}_{hint}"

    def const(self, hint: str, value) -> str:
        name = self.name(hint)
        self.new_constants.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], outputs: int | list[str] = 1, **attrs):
        if not isinstance(outputs, list):
            outputs = [self.name(op_type) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def array(self, name: str) -> np.ndarray:
        if name not in self.constants:
            raise UserError(f"{name} is not a constant; only plain int8 step graphs are rewritten")
        return self.constants[name]

    def as_2d(self, name: str) -> str:
        """The (batch, features) tensor that `name` is a view of (tf2onnx wraps each step
        LSTM's inputs and outputs in Reshape, Squeeze and Unsqueeze)."""
        found, seen = None, name
        while True:
            if seen in self.flat:
                return self.flat[seen]
            if found is None and len(self.shape.get(seen, ())) == 2:
                found = seen
            node = self.producer.get(seen)
            if node is None or node.op_type not in _VIEWS:
                break
            seen = node.input[0]
        if found is None or self.shape[found][-1] != self.shape.get(name, [None])[-1]:
            raise UserError(f"{name!r} is not a view of a (batch, features) tensor")
        return found

    def squeezed(self, name: str, consumers: dict) -> str:
        """A name for the 2-D value of LSTM output `name`: the output of a Squeeze that
        already makes it 2-D (that Squeeze is then dropped), else a new one."""
        for node in consumers.get(name, []):
            if node.op_type == "Squeeze" and len(self.shape.get(node.output[0], ())) == 2:
                self.dropped.add(id(node))
                return node.output[0]
        return self.name("2d")

    def bound(self, name: str) -> float:
        """The largest |value| tensor `name` can hold, from what produces it."""
        node = self.producer.get(name)
        if node is None:
            if name in self.constants:
                return float(np.abs(self.constants[name]).max())
            raise UserError(f"{name!r} has no known bound (a graph input)")
        if node.op_type in _PASS_THROUGH:
            return self.bound(node.input[0])
        if node.op_type == "Concat":
            return max(self.bound(i) for i in node.input)
        if node.op_type == "Gather":
            return self.bound(node.input[0])
        if node.op_type == "DequantizeLinear":
            source = self.producer.get(node.input[0])
            table = node.input[0] if source is None else source.input[0]
            if source is not None and source.op_type != "Gather":
                raise UserError(f"{name!r} has no known bound")
            zero = self.array(node.input[2]).astype(np.float32) if len(node.input) > 2 else 0.0
            return float(
                np.abs(self.array(table).astype(np.float32) - zero).max()
                * np.abs(self.array(node.input[1])).max()
            )
        if node.op_type == "DynamicQuantizeLSTM" and list(node.output).index(name) < 2:
            return 1.0  # h = o * tanh(c)
        raise UserError(f"{name!r} has no known bound ({node.op_type})")

    def quantized(self, name: str, scale: float) -> str:
        """`name` as uint8 with a fixed `scale` about zero point 128."""
        return self.op(
            "QuantizeLinear",
            [name, self.const("scale", np.float32(scale)), self.const("zp", np.uint8(_ZERO_POINT))],
        )


def _scale(bound: float) -> float:
    return max(bound, 1e-30) / 127


def _per_column(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float weights (K, N) as int8 with one scale per output column."""
    scale = np.maximum(np.abs(weights).max(axis=0), 1e-30) / 127
    return np.clip(np.round(weights / scale), -127, 127).astype(np.int8), scale.astype(np.float32)


def _lstm(g: _Graph, node: onnx.NodeProto, consumers: dict) -> None:
    """A one-step `DynamicQuantizeLSTM` (forward, default activations, no peepholes),
    computed on (batch, features) tensors."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    hidden = int(attrs.pop("hidden_size"))
    activations = attrs.pop("activations", _LSTM_ACTIVATIONS)
    if (
        attrs.pop("direction", b"forward") != b"forward"
        or list(activations) != _LSTM_ACTIVATIONS
        or attrs  # clip, input_forget, layout: not what an exported step LSTM has
        or len(node.input) < 12
    ):
        raise UserError(f"LSTM {node.name!r}: only plain forward step LSTMs are rewritten")
    if any(node.input[i] for i in (4, 7)) or not (node.input[5] and node.input[6]):
        raise UserError(f"LSTM {node.name!r}: sequence lengths or peepholes are not rewritten")
    for zero in (node.input[9], node.input[11]):
        if np.any(g.array(zero)):
            raise UserError(f"LSTM {node.name!r}: only symmetric int8 weights are rewritten")
    x, h, c = (g.as_2d(name) for name in node.input[0:1] + node.input[5:7])
    x_scale, h_scale = _scale(g.bound(node.input[0])), _scale(1.0)
    w = g.array(node.input[1])[0].astype(np.float32) * g.array(node.input[8])  # (I, 4H)
    r = g.array(node.input[2])[0].astype(np.float32) * g.array(node.input[10])  # (H, 4H)
    weights, column = _per_column(np.concatenate([w * x_scale, r * h_scale]))
    joined = g.op("Concat", [g.quantized(x, x_scale), g.quantized(h, h_scale)], axis=-1)
    zero_point = g.const("zp", np.uint8(_ZERO_POINT))
    product = g.op("MatMulInteger", [joined, g.const("weights", weights), zero_point])
    gates = g.op("Mul", [g.op("Cast", [product], to=TensorProto.FLOAT), g.const("column", column)])
    bias = g.array(node.input[3])[0]
    gates = g.op("Add", [gates, g.const("bias", bias[: 4 * hidden] + bias[4 * hidden :])])
    # ONNX gate order: input, output, forget, cell; the first three are sigmoids
    split = g.const("split", np.array([3 * hidden, hidden], np.int64))
    sigmoid_part, cell_part = g.op("Split", [gates, split], 2, axis=-1)
    i, o, f = g.op("Split", [g.op("Sigmoid", [sigmoid_part])], 3, axis=-1, num_outputs=3)
    y, y_h, y_c = (list(node.output) + ["", "", ""])[:3]
    c_new = g.squeezed(y_c, consumers) if y_c else g.name("c")
    g.op("Add", [g.op("Mul", [f, c]), g.op("Mul", [i, g.op("Tanh", [cell_part])])], [c_new])
    h_new = g.squeezed(y_h, consumers) if y_h else g.name("h")
    g.op("Mul", [o, g.op("Tanh", [c_new])], [h_new])
    # the 3-D and 4-D outputs stay for any other reader; unread ones are removed later
    for name, value, axes in ((y, h_new, [0, 1]), (y_h, h_new, [0]), (y_c, c_new, [0])):
        if name:
            g.flat[name] = value
            g.op("Unsqueeze", [value, g.const("axes", np.array(axes, np.int64))], [name])


def _matmul_chain(g: _Graph, node: onnx.NodeProto, consumers: dict) -> list[onnx.NodeProto]:
    """`DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(scales)` with a fixed input
    scale; returns the nodes it replaces."""
    quantize = g.producer.get(node.input[0])
    (cast,) = consumers[node.output[0]]
    (scaled,) = consumers[cast.output[0]]
    scales = g.producer.get(scaled.input[1])
    if quantize is None or quantize.op_type != "DynamicQuantizeLinear" or cast.op_type != "Cast":
        raise UserError(f"{node.name!r}: only dynamically quantised products are rewritten")
    if scaled.op_type != "Mul" or scales is None or scales.op_type != "Mul":
        raise UserError(f"{node.name!r}: its output is not scaled as expected")
    if len(node.input) > 3 and np.any(g.array(node.input[3])):
        raise UserError(f"{node.name!r}: only symmetric int8 weights are rewritten")
    weight_scale = g.array(next(s for s in scales.input if s != quantize.output[1]))
    x = g.as_2d(quantize.input[0])
    x_scale = _scale(g.bound(quantize.input[0]))
    zero_point = g.const("zp", np.uint8(_ZERO_POINT))
    product = g.op("MatMulInteger", [g.quantized(x, x_scale), node.input[1], zero_point])
    factor = g.const("factor", (weight_scale * np.float32(x_scale)).astype(np.float32))
    g.op("Mul", [g.op("Cast", [product], to=TensorProto.FLOAT), factor], [scaled.output[0]])
    return [quantize, node, cast, scaled, scales]


def static_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` (a dynamically quantised step graph) with fixed activation scales; inputs,
    outputs and metadata unchanged. Raises UserError on a graph it cannot rewrite."""
    g = _Graph(model)
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in g.graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    replaced: set[int] = set()
    for n in g.graph.node:
        if n.op_type == "DynamicQuantizeLSTM" and n.domain == _DOMAIN:
            _lstm(g, n, consumers)
            replaced.add(id(n))
        elif n.op_type == "MatMulInteger":
            replaced.update(id(r) for r in _matmul_chain(g, n, consumers))
    if not replaced:
        raise UserError("no dynamically quantised products to rewrite")
    kept = [n for n in g.graph.node if id(n) not in replaced | g.dropped]
    if any(n.domain not in ("", "ai.onnx") for n in kept):
        raise UserError("the graph has other onnxruntime-only operators; it is not rewritten")
    if _opset_of(model) < 18 and any(n.op_type in _AXES_INPUT_AT_18 for n in kept):
        raise UserError("the graph has reductions whose form changed at opset 18; not rewritten")
    known = {i.name for i in g.graph.input} | set(g.constants) | {c.name for c in g.new_constants}
    nodes = _ordered(_read(kept + g.nodes, {o.name for o in g.graph.output}), known)
    used = {name for n in nodes for name in n.input}
    initializers = [i for i in [*g.graph.initializer, *g.new_constants] if i.name in used]
    graph = helper.make_graph(nodes, g.graph.name, g.graph.input, g.graph.output, initializers)
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _opset(model))])
    out.ir_version = model.ir_version
    out.metadata_props.extend(model.metadata_props)
    onnx.checker.check_model(out)
    return out


def _opset_of(model: onnx.ModelProto) -> int:
    return max([o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] + [1])


def _opset(model: onnx.ModelProto) -> int:
    """The rewritten graph's default-domain version: at least 18 (Split's `num_outputs`)."""
    return max(_opset_of(model), 18)


def _ordered(nodes: list[onnx.NodeProto], known: set[str]) -> list[onnx.NodeProto]:
    """`nodes` in an order where each runs after what it reads, as ONNX requires."""
    ready, pending, ordered = set(known) | {""}, list(nodes), []
    while pending:
        runnable = [n for n in pending if all(i in ready for i in n.input)]
        if not runnable:
            raise UserError("the rewritten graph reads a tensor nothing produces")
        ordered += runnable
        ready.update(o for n in runnable for o in n.output)
        done = {id(n) for n in runnable}
        pending = [n for n in pending if id(n) not in done]
    return ordered


def _read(nodes: list[onnx.NodeProto], outputs: set[str]) -> list[onnx.NodeProto]:
    """`nodes` without those whose outputs nothing reads."""
    while True:
        read = outputs | {name for n in nodes for name in n.input}
        kept = [n for n in nodes if any(o in read for o in n.output)]
        if len(kept) == len(nodes):
            return kept
        nodes = kept
