"""Graph clean-up after tf2onnx: drop index arithmetic that ONNX's Gather does itself.

tf2onnx writes a Keras embedding lookup as `where(i < 0, i + n, i)` in front of each
Gather (nine nodes per lookup: Cast, Less, Not, Casts, Muls, Adds). ONNX Gather already
reads a negative index as counted from the end, so the wrapper changes nothing; it only
costs a few microseconds per node on every step, which for a painter with nine lookups
was about a third of a batch-1 step. Gather then reads the raw index, and the nodes no
output needs are removed: integer arithmetic only, so the outputs are bit-identical.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

_SUBGRAPHS = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in graph.initializer}


def _wrapped_index(
    name: str, producer: dict[str, onnx.NodeProto], constants: dict[str, np.ndarray], rows: int
) -> str | None:
    """The raw index behind `Mul(Cast(i<0), i+rows) + Mul(i, Cast(!(i<0)))`, if `name` is
    exactly that; None otherwise (the graph is then left as it is)."""

    def node(tensor: str, op: str) -> onnx.NodeProto | None:
        found = producer.get(tensor)
        return found if found is not None and found.op_type == op else None

    add = node(name, "Add")
    if add is None:
        return None
    muls = [node(t, "Mul") for t in add.input]
    if None in muls:
        return None
    for keep, shift in (muls, muls[::-1]):
        raw, flag = keep.input
        cast = node(flag, "Cast")
        negated = cast and node(cast.input[0], "Not")
        less = negated and node(negated.input[0], "Less")
        if less is None:
            continue
        zero = constants.get(less.input[1])
        cast_raw = node(less.input[0], "Cast")
        if zero is None or zero.size != 1 or float(zero) != 0 or cast_raw is None:
            continue
        if cast_raw.input[0] != raw:
            continue
        shifted = [node(t, "Add") for t in shift.input]
        for plus in shifted:
            if plus is None or plus.input[0] != raw:
                continue
            size = constants.get(plus.input[1])
            if size is not None and size.size == 1 and int(size) == rows:
                return raw
    return None


def drop_gather_index_wrappers(proto: onnx.ModelProto) -> int:
    """Rewire every wrapped Gather to its raw index and prune dead nodes; returns how many
    lookups were rewired. The model is changed in place."""
    graph = proto.graph
    if any(a.type in _SUBGRAPHS for n in graph.node for a in n.attribute):
        return 0  # names used inside subgraphs are not followed here: leave such graphs be
    producer = {out: n for n in graph.node for out in n.output}
    constants = _constants(graph)
    rewired = 0
    for gather in graph.node:
        table = constants.get(gather.input[0]) if gather.op_type == "Gather" else None
        axis = next((a.i for a in gather.attribute if a.name == "axis"), 0)
        if table is None or axis != 0:
            continue
        raw = _wrapped_index(gather.input[1], producer, constants, table.shape[0])
        if raw is not None:
            gather.input[1] = raw
            rewired += 1
    if rewired:
        _prune(graph)
    return rewired


def _prune(graph: onnx.GraphProto) -> None:
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(used)
