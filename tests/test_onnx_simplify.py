"""tf2onnx's index arithmetic in front of Gather is dropped, with outputs unchanged."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from training.onnx_simplify import drop_gather_index_wrappers

SHIPPED = Path(__file__).resolve().parent.parent / "exported_models"


def wrapped_lookup(rows: int = 5, size_constant: int = 5) -> onnx.ModelProto:
    """An embedding lookup as tf2onnx writes it: where(i < 0, i + n, i), then Gather."""
    table = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3)
    nodes = [
        helper.make_node("Cast", ["i"], ["i_float"], to=TensorProto.FLOAT),
        helper.make_node("Less", ["i_float", "zero"], ["negative"]),
        helper.make_node("Not", ["negative"], ["kept"]),
        helper.make_node("Cast", ["kept"], ["kept_int"], to=TensorProto.INT32),
        helper.make_node("Mul", ["i", "kept_int"], ["i_kept"]),
        helper.make_node("Cast", ["negative"], ["negative_int"], to=TensorProto.INT32),
        helper.make_node("Add", ["i", "n"], ["i_shifted"]),
        helper.make_node("Mul", ["negative_int", "i_shifted"], ["i_fixed"]),
        helper.make_node("Add", ["i_fixed", "i_kept"], ["index"]),
        helper.make_node("Gather", ["table", "index"], ["out"], axis=0),
    ]
    graph = helper.make_graph(
        nodes,
        "lookup",
        [helper.make_tensor_value_info("i", TensorProto.INT32, ["B"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["B", 3])],
        initializer=[
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array(0, np.float32), "zero"),
            numpy_helper.from_array(np.array(size_constant, np.int32), "n"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def run(model: onnx.ModelProto, indices: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"i": indices})[0]


def test_the_wrapper_goes_and_the_lookup_is_unchanged():
    model = wrapped_lookup()
    indices = np.array([0, 4, -1, -5, 2], np.int32)
    before = run(model, indices)
    assert drop_gather_index_wrappers(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Gather"]
    assert sorted(i.name for i in model.graph.initializer) == ["table"]
    assert (run(model, indices) == before).all()


def test_an_index_shifted_by_another_size_is_left_alone():
    model = wrapped_lookup(size_constant=7)  # not what Gather would do with a negative index
    assert drop_gather_index_wrappers(model) == 0
    assert len(model.graph.node) == 10


def test_the_shipped_step_models_have_no_wrapped_lookups_left():
    for name in ("monet", "shakespeare", "nietzsche", "names"):
        path = SHIPPED / f"{name}.onnx"
        if path.exists():
            assert drop_gather_index_wrappers(onnx.load(str(path))) == 0, name
