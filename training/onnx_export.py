"""Keras -> ONNX through tf2onnx, with metadata, a parity check and an atomic write."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import onnx
import onnxruntime as ort

from bot.contract.metadata import ModelMetadata
from training.onnx_simplify import drop_gather_index_wrappers

OPSET = 17


class ParityError(RuntimeError):
    pass


def convert(function, input_signature) -> onnx.ModelProto:
    """Trace a `tf.function` (not a Sequential model: from_keras breaks on those in Keras 3)."""
    import tf2onnx

    proto, _ = tf2onnx.convert.from_function(function, input_signature=input_signature, opset=OPSET)
    drop_gather_index_wrappers(proto)  # bit-identical outputs, fewer nodes per step
    return proto


def attach_metadata(proto: onnx.ModelProto, metadata: ModelMetadata) -> None:
    del proto.metadata_props[:]
    for key, value in metadata.to_props().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def write_checked(
    proto: onnx.ModelProto,
    out_path: Path,
    parity: Callable[[ort.InferenceSession], float],
    tolerance: float = 1e-4,
) -> float:
    """Write `proto` (atomically) only if `parity(session)` (max abs difference vs Keras)
    is within tolerance."""
    data = proto.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    difference = float(parity(session))
    if not difference <= tolerance:
        raise ParityError(
            f"ONNX output differs from Keras by {difference:.3g} (> {tolerance:g}); "
            f"{out_path} not written"
        )
    atomic_write(data, out_path)
    return difference


def atomic_write(data: bytes, out_path: Path) -> None:
    """Write to a temporary name in the same directory and rename over the target, so a
    running bot never reads a half-written model."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the bot may run as another user
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
