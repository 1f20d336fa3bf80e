"""`python -m training ensemble write`: step models of one style as one file that answers
with the mixture of their next-character distributions.

Two models trained apart (another seed, another run) make different mistakes, so the
average of their probabilities scores better on unseen text than either alone; that is
measured here, not assumed: every member and the mixture are scored on the style's
held-out chunks, and the file is written only if the mixture beats its best member.

The result is still one step graph with explicit state, so the bot serves it as any
other: the members' graphs sit side by side under the prefixes `m0_`, `m1_`, ..., they
share the `tokens` input, and `logits` is the log of the weighted mixture
(log-probabilities are logits, so temperature and sampling work unchanged). The state
layout lists every member's (h, c), prefixed. The weights are fitted on the held-out
chunks unless given: one number per member, like choosing the epoch by validation loss.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from bot.contract.metadata import ModelMetadata
from bot.runtime.onnx_guard import metadata_props
from bot.text.vocabulary import Vocabulary
from training.errors import UserError
from training.onnx_export import atomic_write, attach_metadata, write_checked
from training.tokenlm.evaluate import load_step_model, log_softmax, stream_logps

LOGITS = "logits"
# Metadata every member must share, or the mixture would mix unlike things.
SHARED_EXTRA = ("task", "style", "split", "contexts", "start_token")
STREAMS = 64  # as `evaluate write` scores, so the numbers agree
MIN_WEIGHT = 0.01  # a member weighted less only costs speed and size


def member_prefix(index: int) -> str:
    return f"m{index}_"


def _rename_graph(graph: onnx.GraphProto, prefix: str, keep: set[str]) -> None:
    """Prefix every tensor and node name in `graph` except those in `keep` (shared inputs)."""

    def new(name: str) -> str:
        return name if not name or name in keep else prefix + name

    for node in graph.node:
        if any(
            a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
            for a in node.attribute
        ):
            raise UserError(f"node {node.name} ({node.op_type}) holds a subgraph; not merged")
        node.name = new(node.name)
        node.input[:] = [new(n) for n in node.input]
        node.output[:] = [new(n) for n in node.output]
    for tensor in graph.initializer:
        tensor.name = new(tensor.name)
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = new(value.name)


def _mixture_nodes(names: list[str], weights: list[float]) -> tuple[list, list]:
    """Nodes and constants for log(sum_k w_k softmax(logits_k)), by log-sum-exp."""
    nodes, constants, shifted = [], [], []
    for name, weight in zip(names, weights, strict=True):
        constants.append(
            helper.make_tensor(f"{name}_log_weight", onnx.TensorProto.FLOAT, [], [math.log(weight)])
        )
        nodes += [
            helper.make_node("LogSoftmax", [name], [f"{name}_logp"], axis=-1),
            helper.make_node("Add", [f"{name}_logp", f"{name}_log_weight"], [f"{name}_scored"]),
        ]
        shifted.append(f"{name}_scored")
    nodes.append(helper.make_node("Max", shifted, ["mixture_max"]))
    for name in shifted:
        nodes += [
            helper.make_node("Sub", [name, "mixture_max"], [f"{name}_shifted"]),
            helper.make_node("Exp", [f"{name}_shifted"], [f"{name}_exp"]),
        ]
    nodes += [
        helper.make_node("Sum", [f"{n}_exp" for n in shifted], ["mixture_sum"]),
        helper.make_node("Log", ["mixture_sum"], ["mixture_log"]),
        helper.make_node("Add", ["mixture_log", "mixture_max"], [LOGITS]),
    ]
    return nodes, constants


def merge_step_graphs(
    protos: list[onnx.ModelProto], weights: list[float], shared: list[str]
) -> onnx.ModelProto:
    """One graph running every member on the same `shared` inputs; `logits` is their mixture."""
    nodes, initializers, inputs, outputs, value_info = [], [], [], [], []
    member_logits = []
    for index, proto in enumerate(protos):
        graph = onnx.GraphProto()
        graph.CopyFrom(proto.graph)
        _rename_graph(graph, member_prefix(index), set(shared))
        nodes += graph.node
        initializers += graph.initializer
        value_info += graph.value_info
        inputs += [i for i in graph.input if i.name not in shared or index == 0]
        outputs += [o for o in graph.output if o.name != member_prefix(index) + LOGITS]
        logits = [o for o in graph.output if o.name == member_prefix(index) + LOGITS]
        if not logits:
            raise UserError(f"member {index} has no {LOGITS} output")
        member_logits.append(logits[0])
    mix_nodes, constants = _mixture_nodes([o.name for o in member_logits], weights)
    logits = helper.make_tensor_value_info(LOGITS, onnx.TensorProto.FLOAT, None)
    logits.type.CopyFrom(member_logits[0].type)
    graph = helper.make_graph(
        nodes + mix_nodes,
        "ensemble",
        inputs,
        [logits, *outputs],
        initializer=initializers + constants,
        value_info=value_info,
    )
    opsets: dict[str, int] = {}
    for proto in protos:
        for opset in proto.opset_import:
            opsets[opset.domain] = max(opsets.get(opset.domain, 0), opset.version)
    merged = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())]
    )
    merged.ir_version = max(p.ir_version for p in protos)
    onnx.checker.check_model(merged)
    return merged


def check_members(metas: list[ModelMetadata], files: list[Path]) -> None:
    """Refuse members that are not the same style of the same text with the same split."""
    if any(m.extra.get("task") != "write" for m in metas):
        raise UserError("every member must be a /write model")
    if any(m.extra.get("contexts") for m in metas):
        raise UserError("members with context inputs are not mixed here")
    first = metas[0]
    for path, meta in zip(files[1:], metas[1:], strict=True):
        if meta.kind != first.kind or meta.vocabulary != first.vocabulary:
            raise UserError(f"{path} has another kind or vocabulary than {files[0]}")
        for key in SHARED_EXTRA:
            if (meta.extra.get(key) or None) != (first.extra.get(key) or None):
                raise UserError(f"{path} differs from {files[0]} in {key}; not mixed")
        if meta.data_sources != first.data_sources:
            raise UserError(f"{path} was trained on other data than {files[0]}")
    if any("ensemble" in m.extra for m in metas):
        raise UserError("a member is an ensemble already; mix its members instead")


def ensemble_metadata(
    metas: list[ModelMetadata], files: list[Path], weights: list[float], scores: list[float]
) -> ModelMetadata:
    """Member 0's metadata with the merged state layout and what each member was."""
    first = metas[0]
    members = [
        {
            "file": path.name,
            "weight": weight,
            "config": meta.extra["config"],
            "training_command": meta.training_command,
            "trained_at": meta.trained_at,
            "settings": meta.extra.get("settings", {}),
            "metrics": meta.metrics,
            "held_out_nats_per_char": score,
            **(
                {"quantization": meta.extra["quantization"]} if "quantization" in meta.extra else {}
            ),
        }
        for path, meta, weight, score in zip(files, metas, weights, scores, strict=True)
    ]
    extra = {
        k: v
        for k, v in first.extra.items()
        if k not in ("config", "state", "quantization", "settings")
    }
    extra["state"] = [
        {**s, "input": member_prefix(i) + s["input"], "output": member_prefix(i) + s["output"]}
        for i, meta in enumerate(metas)
        for s in meta.extra["state"]
    ]
    extra["ensemble"] = {"members": members}
    if all("quantization" in m.extra for m in metas):  # so `quantize write` refuses it
        extra["quantization"] = {"weights": metas[0].extra["quantization"]["weights"]}
    return ModelMetadata(
        kind=first.kind,
        vocabulary=first.vocabulary,
        max_length=first.max_length,
        metrics={},
        data_sources=first.data_sources,
        training_command="",
        trained_at="",
        extra=extra,
    )


def mixture_parity(
    protos: list[onnx.ModelProto],
    metas: list[ModelMetadata],
    weights: list[float],
    steps: int = 100,
) -> Callable:
    """A parity check for `write_checked`: the merged graph against the members run one
    by one (each with its own state) and mixed here in float64, over `steps` tokens."""
    import onnxruntime as ort

    rng = np.random.default_rng(1)
    tokens = rng.integers(0, len(metas[0].vocabulary), steps).astype(np.int32)
    sessions = [
        ort.InferenceSession(p.SerializeToString(), providers=["CPUExecutionProvider"])
        for p in protos
    ]
    states = [
        {s["input"]: np.zeros((1, s["size"]), np.float32) for s in m.extra["state"]} for m in metas
    ]
    expected = []
    for token in tokens:
        logps = []
        for k, (session, meta) in enumerate(zip(sessions, metas, strict=True)):
            names = [o.name for o in session.get_outputs()]
            out = dict(
                zip(names, session.run(None, {"tokens": token[None], **states[k]}), strict=True)
            )
            states[k] = {s["input"]: out[s["output"]] for s in meta.extra["state"]}
            logps.append(log_softmax(out[LOGITS].astype(np.float64))[0] + math.log(weights[k]))
        expected.append(np.logaddexp.reduce(np.stack(logps), axis=0))

    def parity(session) -> float:
        layout = [
            (member_prefix(i) + s["input"], member_prefix(i) + s["output"], s["size"])
            for i, m in enumerate(metas)
            for s in m.extra["state"]
        ]
        feeds = {i: np.zeros((1, size), np.float32) for i, _, size in layout}
        names = [o.name for o in session.get_outputs()]
        worst = 0.0
        for token, want in zip(tokens, expected, strict=True):
            out = dict(zip(names, session.run(None, {"tokens": token[None], **feeds}), strict=True))
            worst = max(worst, float(np.abs(out[LOGITS][0] - want).max()))
            feeds = {i: out[o] for i, o, _ in layout}
        return worst

    return parity


def fit_weights(logps: np.ndarray, iterations: int = 200) -> np.ndarray:
    """Mixture weights maximising the likelihood of per-token log-probabilities `logps`
    (members x tokens), by expectation-maximisation from equal weights."""
    weights = np.full(len(logps), 1 / len(logps))
    for _ in range(iterations):
        joint = logps + np.log(weights)[:, None]
        responsibility = np.exp(joint - np.logaddexp.reduce(joint, axis=0))
        weights = responsibility.mean(axis=1)
    return weights


def mixture_nats(logps: np.ndarray, weights: np.ndarray) -> float:
    return -float(np.logaddexp.reduce(logps + np.log(weights)[:, None], axis=0).mean())


def ensemble_write(
    members: list[Path], data: list[Path], out: Path, weights: list[float] | None = None
) -> dict:
    """Mix /write step models of one style, with `weights` or weights fitted on the
    held-out chunks; write `out` (which may be one of the members) only if the mixture
    scores better there than its best member."""
    from training.runtime import utc_now
    from training.tokenlm.corpus import held_out_split_text

    if len(members) < 2:
        raise UserError("an ensemble needs at least two --member files")
    if weights is not None and (len(weights) != len(members) or min(weights) <= 0):
        raise UserError("give one positive --weight per member (or none to fit them)")
    protos = [onnx.load(str(p)) for p in members]
    metas = [ModelMetadata.from_props(metadata_props(Path(p).read_bytes())) for p in members]
    check_members(metas, list(members))
    vocab = Vocabulary(metas[0].vocabulary)
    ids = vocab.encode(held_out_split_text(vocab, data, metas[0].extra["split"])).ids
    logps = np.stack([stream_logps(load_step_model(p), ids, STREAMS) for p in members])
    scores = [round(-float(lp.mean()), 4) for lp in logps]
    fitted = weights is None
    weights = [
        float(w) for w in (fit_weights(logps) if fitted else np.divide(weights, sum(weights)))
    ]
    useless = [str(p) for p, w in zip(members, weights, strict=True) if w < MIN_WEIGHT]
    if useless:
        raise UserError(f"{', '.join(useless)} add nothing to the mixture (weight < {MIN_WEIGHT})")
    meta = ensemble_metadata(metas, list(members), weights, scores)
    meta.extra["ensemble"]["weights_fitted_on_held_out"] = fitted
    meta.training_command = " ".join(
        ["python -m training ensemble write"]
        + [f"--member {p}" for p in members]
        + [f"--data {d}" for d in data]
        + [f"--out {out}"]
        + ([] if fitted else [f"--weight {w}" for w in weights])
    )
    meta.trained_at = utc_now()
    merged = merge_step_graphs(protos, weights, ["tokens"])
    attach_metadata(merged, meta)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / Path(out).name
        difference = write_checked(merged, candidate, mixture_parity(protos, metas, weights))
        score = round(-float(stream_logps(load_step_model(candidate), ids, STREAMS).mean()), 4)
    report = {
        "members": {str(p): s for p, s in zip(members, scores, strict=True)},
        "weights": [round(w, 4) for w in weights],
        "weights_fitted": fitted,
        "held_out_nats_per_char": score,
        "held_out_chars": len(ids) - 1,
        "gain_over_best_member": round(min(scores) - score, 4),
        "parity_max_diff": difference,
    }
    if score >= min(scores):
        print(json.dumps({**report, "written": False}))
        raise UserError(
            f"the mixture scores {score} nats/char, no better than its best member "
            f"({min(scores)}); {out} not written"
        )
    meta.metrics = {"held_out_nats_per_char": score, "held_out_chars": len(ids) - 1}
    if "quantization" in meta.extra:
        meta.metrics["held_out_nats_per_char_int8"] = score
    attach_metadata(merged, meta)
    data_bytes = merged.SerializeToString()
    atomic_write(data_bytes, Path(out))
    report["bytes"] = len(data_bytes)
    print(json.dumps({**report, "written": True, "out": str(out)}))
    return report


def main(args) -> None:
    ensemble_write(args.member, args.data, args.out, args.weight)
