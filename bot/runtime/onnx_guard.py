"""Refuse ONNX files whose tensors live outside the file.

An ONNX tensor may point at "external data": a file path relative to where it is loaded
from, or (onnxruntime's in-memory form) a memory address. Loaded from bytes, onnxruntime
resolves such paths against the working directory, so a model dropped into the model
folder could read files the bot can see. One file is one model: any tensor with external
data makes the file unusable. This walks the protobuf wire format directly (the bot does
not depend on the `onnx` package) and visits every place a tensor can sit: initializers,
sparse initializers, node attributes, subgraphs (Loop, If, Scan bodies) and functions.
"""

from __future__ import annotations

from collections.abc import Iterator

# Field numbers from onnx.proto, for the messages that can (transitively) hold tensors.
MODEL_GRAPH, MODEL_FUNCTIONS, MODEL_METADATA = 7, 25, 14
ENTRY_KEY, ENTRY_VALUE = 1, 2
GRAPH_NODES, GRAPH_INITIALIZERS, GRAPH_SPARSE = 1, 5, 15
FUNCTION_NODES = 7
NODE_ATTRIBUTES = 5
ATTR_TENSOR, ATTR_GRAPH, ATTR_TENSORS, ATTR_GRAPHS = 5, 6, 10, 11
ATTR_SPARSE, ATTR_SPARSES = 22, 23
SPARSE_VALUES, SPARSE_INDICES = 1, 2
TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION = 13, 14
MAX_DEPTH = 64


def _varint(data: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated or malformed protobuf")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data: memoryview) -> Iterator[tuple[int, int, memoryview | int]]:
    """(field number, wire type, value) for each field of one message."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated or malformed protobuf")
            yield number, wire, data[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _embedded(data: memoryview, numbers: dict[int, str]) -> Iterator[tuple[str, memoryview]]:
    for number, wire, value in _fields(data):
        if wire == 2 and number in numbers:
            yield numbers[number], value


_CHILDREN = {
    "model": {MODEL_GRAPH: "graph", MODEL_FUNCTIONS: "function"},
    "graph": {GRAPH_NODES: "node", GRAPH_INITIALIZERS: "tensor", GRAPH_SPARSE: "sparse"},
    "function": {FUNCTION_NODES: "node"},
    "node": {NODE_ATTRIBUTES: "attribute"},
    "attribute": {
        ATTR_TENSOR: "tensor",
        ATTR_GRAPH: "graph",
        ATTR_TENSORS: "tensor",
        ATTR_GRAPHS: "graph",
        ATTR_SPARSE: "sparse",
        ATTR_SPARSES: "sparse",
    },
    "sparse": {SPARSE_VALUES: "tensor", SPARSE_INDICES: "tensor"},
}


def _tensor_is_external(data: memoryview) -> bool:
    for number, wire, value in _fields(data):
        if number == TENSOR_EXTERNAL_DATA and wire == 2:
            return True
        if number == TENSOR_DATA_LOCATION and wire == 0 and value != 0:
            return True
    return False


def references_external_data(model: bytes) -> bool:
    """True if any tensor anywhere in the serialised ModelProto uses external data.

    Raises ValueError if the bytes are not a well-formed protobuf message.
    """
    stack = [("model", memoryview(model), 0)]
    while stack:
        kind, data, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError("the model nests subgraphs too deeply")
        if kind == "tensor":
            if _tensor_is_external(data):
                return True
            continue
        stack.extend((child, value, depth + 1) for child, value in _embedded(data, _CHILDREN[kind]))
    return False


def metadata_props(model: bytes) -> dict[str, str]:
    """The ModelProto's `metadata_props`, read without building a session: an inference
    replica uses it to skip, unloaded, the files that another deployment serves.

    Raises ValueError if the bytes are not a well-formed protobuf message.
    """
    props: dict[str, str] = {}
    for number, wire, value in _fields(memoryview(model)):
        if number != MODEL_METADATA or wire != 2:
            continue
        entry = {n: bytes(v).decode("utf-8", "replace") for n, w, v in _fields(value) if w == 2}
        props[entry.get(ENTRY_KEY, "")] = entry.get(ENTRY_VALUE, "")
    return props
