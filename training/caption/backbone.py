"""The pretrained image backbone: ImageNet MobileNetV2 (TensorFlow Lite) as an ONNX graph.

tf2onnx converts the 8-bit TFLite file as it is (quantize/dequantize pairs, which
onnxruntime fuses into integer convolutions); this module then gives the graph a dynamic
batch and two float outputs: `features`, the 1,280-wide average-pooled activations just
before the classifier, and `classes`, the 1,001 class probabilities. The pretrained part
is frozen: captioners train on features computed once by this very graph, with the
preprocessing the bot uses (`bot.images.image_pixels`), so training and serving see the
same numbers.

The file is a download (`python -m training data fetch mobilenet-v2`, into data/pretrained/);
the tests build a tiny random stand-in with the same interface (tests/conftest.py) instead.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from training.errors import UserError
from training.onnx_export import OPSET

INPUT = "image"
FEATURES = "features"
CLASSES = "classes"
IMAGE_SIZE = 224
# How a clone gets the real file into data/pretrained/ (`data/` is not in git).
FETCH_COMMAND = "python -m training data fetch mobilenet-v2"


def _producer(graph, op_type: str):
    nodes = [n for n in graph.node if n.op_type == op_type]
    if len(nodes) != 1:
        raise UserError(f"expected one {op_type} in the backbone, found {len(nodes)}")
    return nodes[0]


def convert_backbone(tflite: Path):
    """The ONNX backbone (a ModelProto) with input `image` (N, 224, 224, 3) uint8 and float
    outputs `features` (N, 1280) and `classes` (N, 1001)."""
    import onnx

    path = Path(tflite)
    if not path.is_file():
        raise UserError(
            f"{tflite}: no such file (the MobileNetV2 .tflite). `{FETCH_COMMAND}` puts it "
            "in data/pretrained/; or pass --backbone PATH"
        )
    stat = path.stat()
    return onnx.load_from_string(_converted(str(path.resolve()), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=2)
def _converted(path: str, size: int, mtime: int) -> bytes:
    """Conversion takes tens of seconds; a process (a test session) does it once per file."""
    import onnx
    import tf2onnx
    from onnx import helper, numpy_helper

    proto, _ = tf2onnx.convert.from_tflite(path, opset=OPSET)
    graph = proto.graph
    # The TFLite graph is fixed at batch 1: its two Reshapes carry that 1 in their shapes.
    for init in graph.initializer:
        if any(init.name == n.input[1] for n in graph.node if n.op_type == "Reshape"):
            shape = numpy_helper.to_array(init).copy()
            shape[0] = -1
            init.CopyFrom(numpy_helper.from_array(shape.astype(np.int64), init.name))
    (image,) = graph.input
    old_input = image.name
    for node in graph.node:
        node.input[:] = [INPUT if i == old_input else i for i in node.input]
    image.name = INPUT
    image.type.tensor_type.shape.dim[0].dim_param = "batch"
    pooled = _producer(graph, "AveragePool").output[0]  # float, (N, 1280, 1, 1)
    softmax = _producer(graph, "Softmax").output[0]  # float, (N, 1001)
    graph.node.append(helper.make_node("Flatten", [pooled], [FEATURES], name="features"))
    graph.node.append(helper.make_node("Identity", [softmax], [CLASSES], name="classes"))
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info(FEATURES, onnx.TensorProto.FLOAT, ["batch", 1280]),
            helper.make_tensor_value_info(CLASSES, onnx.TensorProto.FLOAT, ["batch", 1001]),
        ]
    )
    _prune(graph)
    del graph.value_info[:]
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def _prune(graph) -> None:
    """Drop the nodes and initializers no output needs (the final quantize step)."""
    needed = {o.name for o in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Backbone:
    """The converted graph in an onnxruntime session (CPU), for computing features."""

    def __init__(self, proto) -> None:
        import onnxruntime as ort

        self.proto = proto
        self.session = ort.InferenceSession(
            proto.SerializeToString(), providers=["CPUExecutionProvider"]
        )

    def __call__(self, pixels: np.ndarray, batch: int = 32) -> dict[str, np.ndarray]:
        """`pixels`: (N, 224, 224, 3) uint8 -> {"features": (N, 1280), "classes": (N, 1001)}."""
        parts = [
            self.session.run([FEATURES, CLASSES], {INPUT: pixels[lo : lo + batch]})
            for lo in range(0, len(pixels), batch)
        ]
        return {
            FEATURES: np.concatenate([p[0] for p in parts]),
            CLASSES: np.concatenate([p[1] for p in parts]),
        }
