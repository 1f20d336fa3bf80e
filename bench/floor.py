"""The hardware floor of a step model: its arithmetic per step, read from the ONNX graph
itself (so any model counts, mixtures and fused graphs included), and this machine's
measured peaks for float32 and int8 matrix products in onnxruntime.

Only the matrix products count (LSTM gates, output layers); the element-wise work is
small beside them at these sizes. A quantised product (`MatMulInteger`,
`DynamicQuantizeLSTM`) counts as int8 operations, the rest as float32.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

INT8_OPS = {"MatMulInteger", "DynamicQuantizeLSTM", "QLinearMatMul"}


@dataclass(frozen=True)
class StepCost:
    """Multiply-adds x 2 of one step for one batch row, by precision."""

    fp32: float
    int8: float

    @property
    def total(self) -> float:
        return self.fp32 + self.int8

    def floor_seconds(self, rows: float, fp32_peak: float, int8_peak: float) -> float:
        """Seconds for `rows` row-steps if every product ran at its peak."""
        return rows * (self.fp32 / fp32_peak + self.int8 / int8_peak)


def step_cost(model: onnx.ModelProto | Path) -> StepCost:
    """The per-row arithmetic of one step call of `model`."""
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    dims = {i.name: list(i.dims) for i in model.graph.initializer}
    fp32 = int8 = 0.0
    for node in model.graph.node:
        flops = _node_flops(node, dims)
        if node.op_type in INT8_OPS:
            int8 += flops
        else:
            fp32 += flops
    return StepCost(fp32, int8)


def _node_flops(node: onnx.NodeProto, dims: dict[str, list[int]]) -> float:
    weights = [dims.get(name) for name in node.input]
    if node.op_type in ("LSTM", "DynamicQuantizeLSTM", "GRU"):
        w, r = weights[1], weights[2]  # (dirs, gates*H, I) and (dirs, gates*H, H), or transposed
        return 2.0 * (int(np.prod(w)) + int(np.prod(r))) if w and r else 0.0
    if node.op_type in ("MatMul", "MatMulInteger", "Gemm"):
        w = weights[1] if len(weights) > 1 else None
        return 2.0 * int(np.prod(w)) if w and len(w) == 2 else 0.0
    return 0.0


def member_graph(mixture: onnx.ModelProto, index: int) -> onnx.ModelProto:
    """One member of a mixture (`ensemble write`) cut out of the mixture's own graph: its
    token and state in, its logits and state out, so it runs exactly the nodes (int8 or
    not) that member runs inside the mixture."""
    prefix = f"m{index}_"
    inputs = ["tokens"] + [i.name for i in mixture.graph.input if i.name.startswith(prefix)]
    outputs = [f"{prefix}logits"]
    outputs += [o.name for o in mixture.graph.output if o.name.startswith(prefix)]
    typed = onnx.shape_inference.infer_shapes(mixture)  # the extractor needs every type
    return onnx.utils.Extractor(typed).extract_model(inputs, outputs)


def _product_graph(n: int, quantised: bool) -> bytes:
    """One n x n by n x n product: float32 MatMul, or uint8 x int8 MatMulInteger."""
    if quantised:
        a = helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n])
        b = helper.make_tensor_value_info("b", TensorProto.INT8, [n, n])
        out = helper.make_tensor_value_info("c", TensorProto.INT32, [n, n])
        node = helper.make_node("MatMulInteger", ["a", "b"], ["c"])
    else:
        a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
        b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])
        out = helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])
        node = helper.make_node("MatMul", ["a", "b"], ["c"])
    graph = helper.make_graph([node], "peak", [a, b], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def measured_peak(quantised: bool, threads: int = 0, n: int = 1024, repeats: int = 10) -> float:
    """Best operations per second of one large product in onnxruntime on this machine."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        _product_graph(n, quantised), options, providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(0)
    if quantised:
        feeds = {
            "a": rng.integers(0, 255, (n, n), dtype=np.uint8),
            "b": rng.integers(-127, 127, (n, n), dtype=np.int8),
        }
    else:
        feeds = {"a": rng.random((n, n), np.float32), "b": rng.random((n, n), np.float32)}
    session.run(None, feeds)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        session.run(None, feeds)
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best
