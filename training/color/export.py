"""`python -m training export color --weights-from OLD.onnx --out NEW.onnx`: re-export, no training.

The shipped colour model was exported by tf2onnx (slow `Loop` ops) and its training run
is not kept, but its weights are all in the file. This rebuilds the Keras model the
metadata describes, loads those weights, and writes the native-LSTM graph, checked
against Keras and against the old file, with the old metadata (plus a note).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from bot.color.service import encode_names
from bot.contract.metadata import ModelMetadata
from bot.contract.signatures import COLOR
from bot.text.vocabulary import Vocabulary
from training.color.model import build_color_model, output_name
from training.color.onnx_graph import load_native_weights, supports_native
from training.color.train import export_color
from training.color.variants import ColorVariant
from training.errors import UserError
from training.runtime import training_command, utc_now

CHECK_NAMES = 4096  # known names the new file must answer as Keras and the old file do

# tf2onnx names a variable read `MODEL/LAYER/.../OP/ReadVariableOp`; OP tells which weight.
_TF_OPS = {
    "kernel": "Cast",
    "recurrent_kernel": "Cast_1",
    "bias": "BiasAdd",
    "embeddings": "GatherV2",
}


def _initializers(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every initializer, those of Loop/If/Scan bodies included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _initializers(attribute.g)
            for subgraph in attribute.graphs:
                yield from _initializers(subgraph)


def _same_scope(tf_scope: str, keras_scope: str) -> bool:
    """TensorFlow may suffix a scope to keep it unique: `bilstm_0_1` is Keras' `bilstm_0`."""
    return re.fullmatch(re.escape(keras_scope) + r"(_\d+)?", tf_scope) is not None


def _tf2onnx_weight(tensors: dict[str, np.ndarray], path: str) -> np.ndarray:
    """The initializer of Keras weight `path`, e.g. `bilstm_0/forward_lstm_0/lstm_cell/kernel`."""
    *scopes, role = path.split("/")
    found = []
    for name, value in tensors.items():
        # MODEL/SCOPES.../OP/ReadVariableOp[/resource]:0
        parts = name.split(":")[0].removesuffix("/resource").split("/")
        if len(parts) < 3 or parts[-2:] != [_TF_OPS[role], "ReadVariableOp"]:
            continue
        layer_scopes = parts[1:-2]
        if len(layer_scopes) == len(scopes) and all(map(_same_scope, layer_scopes, scopes)):
            found.append(value)
    if len(found) != 1:
        raise UserError(f"expected one initializer for weight {path}, found {len(found)}")
    return found[0]


def load_onnx_weights(model: keras.Model, variant: ColorVariant, proto: onnx.ModelProto) -> None:
    """Set `model`'s weights from a colour file written by `color_graph` or by tf2onnx."""
    tensors = {t.name: numpy_helper.to_array(t) for t in _initializers(proto.graph)}
    if "lstm_0/W" in tensors:
        load_native_weights(model, variant, tensors)
        return
    for weight in model.weights:
        value = _tf2onnx_weight(tensors, weight.path)
        if value.shape != tuple(weight.shape):
            raise UserError(f"{weight.path}: file has {value.shape}, model wants {weight.shape}")
        weight.assign(value)


def _variant(metadata: ModelMetadata) -> ColorVariant:
    """The variant as trained (from the file, not today's VARIANTS table)."""
    fields = dict(metadata.extra["variant"])
    return ColorVariant(**{**fields, "units": tuple(fields["units"])})


def _check_names(metadata: ModelMetadata) -> list[str]:
    """A fixed sample of the known names (seeded, so a rerun checks the same ones)."""
    names = sorted(metadata.extra.get("known_colors", {}))
    if not names:
        raise UserError("the file lists no known colour names to check the new export on")
    rng = np.random.default_rng(0)
    return [names[i] for i in sorted(rng.permutation(len(names))[:CHECK_NAMES])]


def _read_color_file(path: Path) -> tuple[onnx.ModelProto, ModelMetadata, ColorVariant]:
    try:
        proto = onnx.load(path)
        metadata = ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props})
    except (OSError, DecodeError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    if metadata.kind != COLOR:
        raise UserError(f"{path} is a {metadata.kind!r} model, not a colour model")
    variant = _variant(metadata)
    if not supports_native(variant):
        raise UserError(f"variant {variant.name!r} (one-hot, left pad) has no native LSTM export")
    return proto, metadata, variant


def export_main(args) -> dict[str, float]:
    """Re-export `args.weights_from` to `args.out`; returns the parity differences."""
    old, metadata, variant = _read_color_file(Path(args.weights_from))
    vocab = Vocabulary(metadata.vocabulary, offset=1)
    model = build_color_model(variant, vocab.size, metadata.max_length)
    load_onnx_weights(model, variant, old)

    chars = encode_names(vocab, _check_names(metadata), metadata.max_length, left_pad=False)
    session = ort.InferenceSession(old.SerializeToString(), providers=["CPUExecutionProvider"])
    (old_rgb,) = session.run([output_name(variant)], {"chars": chars})
    metadata.extra["exported_with"] = "native ONNX LSTM"
    metadata.extra["re_exported"] = {
        "from": Path(args.weights_from).name,
        "command": training_command(),
        "at": utc_now(),
    }
    if args.rescore:
        rescore(Path(args.weights_from), metadata, args.rescore)
    references = {"old file": (chars, old_rgb)}
    return export_color(model, variant, metadata, Path(args.out), chars, references)


def rescore(path: Path, metadata: ModelMetadata, data: list[Path]) -> None:
    """The validation metrics as the bot decodes today (`evaluate color` on the file whose
    weights are re-exported), into the metadata."""
    from bot.color.bins import SHARPEN
    from training.color.evaluate import evaluate_color

    scored = evaluate_color(path, data, val_fraction=0.1)
    for key in ("names_with_unknown_characters", "dropped_rows"):
        scored.pop(key)
    metadata.metrics.update(scored)
    if "bins" in metadata.extra:
        metadata.extra["decoding"] = {"sharpen": SHARPEN}
    print("rescored: " + json.dumps(metadata.metrics))
