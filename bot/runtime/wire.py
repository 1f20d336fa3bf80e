"""The inference tier's wire format: a generation as plain data (msgpack: prompt,
sampling, the random generator's state, initial state; no callbacks, no pickle), checked
field by field on arrival; and which deployment serves a model."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import msgpack
import numpy as np

from bot.contract.metadata import ModelMetadata
from bot.contract.pixels import KINDS, context_kinds
from bot.contract.signatures import CHARLM
from bot.runtime.batching import Generation
from bot.runtime.lm import StepGraph
from bot.runtime.pixels import PixelGeneration, VariationRng
from bot.runtime.sampling import SamplingConfig

# The wire format of a generation: plain data, checked on arrival. Limits are far above
# what any request needs and only bound what a message can make a replica hold.
WIRE_VERSION = 1
MAX_MESSAGE_BYTES = 16 << 20
MAX_TOKENS = 1 << 20  # prompt, banned and generated tokens per generation
MAX_TOKEN_ID = 2**31 - 1  # the step graphs take int32 tokens
MAX_STATE_ARRAYS = 64
MAX_STATE_UNITS = 1 << 16
MAX_CANVAS = 4096
MAX_SECONDS_LEFT = 7 * 24 * 3600.0
STATE_DTYPE = np.dtype("<f4")  # every step graph's state is float32
INT64 = (-(2**63), 2**63 - 1)
MESSAGE_KEYS = ("version", "prompt", "max_new", "sampling", "rng", "end_token", "banned",
                "state", "seconds_left", "painting")  # fmt: skip
SAMPLING_KEYS = ("temperature", "top_k", "top_p")
PCG64_KEYS = ("kind", "state", "inc", "has_uint32", "uinteger")
VARIATION_KEYS = ("kind", "first", "second", "left")
ARRAY_KEYS = ("dtype", "shape", "data")
PAINTING_KEYS = ("size", "kinds", "grid")


class WireError(ValueError):
    """A generation message that is not a valid one. Raised before anything is built from
    it, so a malformed or hostile message fails its own call and nothing else."""


def to_wire(generation: Generation, now: float) -> bytes:
    """The generation as plain data (msgpack), with what the replica needs to run it as it
    would run here: prompt, length, sampling, the random generator's state and the initial
    state. Callbacks and its future stay here; its deadline travels as seconds left, since
    clocks differ between machines. Not pickle: a message must never be able to make the
    replica run code."""
    sampling, state, deadline = generation.sampling, generation.state, generation.deadline
    message = {
        "version": WIRE_VERSION,
        "prompt": [int(token) for token in generation.prompt],
        "max_new": int(generation.max_new),
        "sampling": {
            "temperature": float(sampling.temperature),
            "top_k": int(sampling.top_k),
            "top_p": float(sampling.top_p),
        },
        "rng": _rng_to_wire(generation.rng),
        "end_token": None if generation.end_token is None else int(generation.end_token),
        "banned": [int(token) for token in generation.banned],
        "state": None if state is None else [_array_to_wire(array) for array in state],
        "seconds_left": None if deadline is None else max(0.0, deadline - now),
        "painting": _painting_to_wire(generation),
    }
    return msgpack.packb(message, use_bin_type=True)


def from_wire(data: bytes) -> Generation:
    """A fresh generation from a `to_wire` message, every field checked (type, range,
    size) before it is used; anything else is refused with a WireError saying what is
    wrong. `check_fits` then checks it against the model it asks for."""
    message = _record(_unpack(data), MESSAGE_KEYS, "the message")
    version = message["version"]
    if type(version) is not int or version != WIRE_VERSION:
        raise WireError(f"message version {_shown(version)}; this replica reads {WIRE_VERSION}")
    left = _optional(
        message["seconds_left"], lambda v: _number(v, "seconds_left", 0, MAX_SECONDS_LEFT)
    )
    fields: dict[str, Any] = {
        "prompt": _tokens(message["prompt"], "prompt", minimum=1),
        "max_new": _integer(message["max_new"], "max_new", 1, MAX_TOKENS),
        "sampling": _sampling(message["sampling"]),
        "rng": _rng(message["rng"]),
        "end_token": _optional(
            message["end_token"], lambda v: _integer(v, "end_token", 0, MAX_TOKEN_ID)
        ),
        "banned": _tokens(message["banned"], "banned"),
        "state": _optional(message["state"], _state),
        "deadline": None if left is None else time.monotonic() + left,
    }
    if message["painting"] is None:
        return Generation(**fields)
    return PixelGeneration(**fields, **_painting(message["painting"]))


def check_fits(generation: Generation, graph: StepGraph) -> None:
    """What a message cannot be checked for alone: its tokens must be in the model's
    vocabulary, its initial state of the model's shape and a painting's canvas and
    contexts the model's. A generation that did not fit would fail the step call it shares
    with other requests, failing them too."""
    meta, name = graph.model.metadata, graph.model.name
    vocabulary = len(meta.vocabulary)
    for what, tokens in (("prompt", generation.prompt), ("banned", generation.banned)):
        if max(tokens, default=0) >= vocabulary:
            raise WireError(f"a {what} token is outside the {vocabulary} tokens of {name}")
    # Each step masks every banned token: repeats would only slow the shared batch.
    generation.banned = sorted(set(generation.banned))
    if generation.state is not None:
        expected = [s.shape for s in graph.zero_state(1)]
        if [s.shape for s in generation.state] != expected:
            raise WireError(f"the initial state's shapes are not {expected}, those of {name}")
    if isinstance(generation, PixelGeneration):
        if task_of(meta) != "paint":
            raise WireError(f"a painting was sent to {name}, which does not paint")
        extra = meta.extra
        canvas = (
            int(extra["size"]),
            context_kinds(extra.get("contexts", [])),
            int(extra.get("thumbnail", 0)),
        )
        if (generation.size, generation.kinds, generation.grid) != canvas:
            raise WireError(f"the painting's size, contexts and thumbnail are not those of {name}")
    elif graph.contexts:
        raise WireError(f"{name} takes per-step contexts, which only a painting has")


def _rng_to_wire(rng: Any) -> dict:
    if isinstance(rng, VariationRng):
        first, second = _generator_to_wire(rng.first), _generator_to_wire(rng.second)
        return {"kind": "variation", "first": first, "second": second, "left": int(rng.left)}
    if isinstance(rng, np.random.Generator):
        return _generator_to_wire(rng)
    raise TypeError(f"a {type(rng).__name__} cannot be sent to the inference tier")


def _generator_to_wire(rng: np.random.Generator) -> dict:
    """A PCG64 generator's whole state (what numpy's `default_rng` makes), as numbers."""
    state = rng.bit_generator.state
    if state["bit_generator"] != "PCG64":
        raise TypeError(f"a {state['bit_generator']} generator cannot be sent (only PCG64)")
    return {
        "kind": "pcg64",
        "state": state["state"]["state"].to_bytes(16, "big"),
        "inc": state["state"]["inc"].to_bytes(16, "big"),
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def _array_to_wire(array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array)
    return {"dtype": array.dtype.str, "shape": list(array.shape), "data": array.tobytes()}


def _painting_to_wire(generation: Generation) -> dict | None:
    if not isinstance(generation, PixelGeneration):
        return None
    return {"size": generation.size, "kinds": list(generation.kinds), "grid": generation.grid}


def _refuse_extension(code: int, data: bytes) -> None:
    raise WireError(f"msgpack extension type {code} is not part of a generation message")


def _unpack(data: Any) -> Any:
    if not isinstance(data, bytes):
        raise WireError(f"a generation message is bytes, not {type(data).__name__}")
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"a generation message of {len(data)} bytes is over {MAX_MESSAGE_BYTES}")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, ext_hook=_refuse_extension)
    except WireError:
        raise
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise WireError(f"not a generation message (msgpack: {error})") from None


def _kind(value: Any) -> str:
    return type(value).__name__


def _shown(value: Any) -> str:
    """`value` for an error message, cut short: the log is no place for a whole message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _record(value: Any, keys: tuple[str, ...], what: str) -> dict:
    """`value` as a map with exactly `keys`."""
    if not isinstance(value, dict):
        raise WireError(f"{what} must be a map, not {_kind(value)}")
    if set(value) != set(keys):
        missing = sorted(set(keys) - set(value))
        unknown = sorted(_shown(key) for key in set(value) - set(keys))[:5]
        raise WireError(f"{what} lacks {missing} or has unknown keys {unknown}")
    return value


def _optional(value: Any, read: Callable[[Any], Any]) -> Any:
    return None if value is None else read(value)


def _integer(value: Any, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"{what} must be a whole number, not {_kind(value)}")
    if not low <= value <= high:
        raise WireError(f"{what} must be from {low} to {high}, not {value}")
    return value


def _number(value: Any, what: str, low: float, high: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise WireError(f"{what} must be a number, not {_kind(value)}")
    if not (math.isfinite(value) and low <= value <= high):
        raise WireError(f"{what} must be from {low:g} to {high:g}, not {value}")
    return float(value)


def _tokens(value: Any, what: str, minimum: int = 0) -> list[int]:
    if not isinstance(value, list):
        raise WireError(f"{what} must be a list of tokens, not {_kind(value)}")
    if not minimum <= len(value) <= MAX_TOKENS:
        raise WireError(f"{what} must have {minimum} to {MAX_TOKENS} tokens, not {len(value)}")
    return [_integer(token, f"a {what} token", 0, MAX_TOKEN_ID) for token in value]


def _sampling(value: Any) -> SamplingConfig:
    fields = _record(value, SAMPLING_KEYS, "sampling")
    try:
        return SamplingConfig(
            _number(fields["temperature"], "temperature", 0, 5),
            _integer(fields["top_k"], "top_k", 0, MAX_TOKEN_ID),
            _number(fields["top_p"], "top_p", 0, 1),
        )
    except WireError:
        raise
    except ValueError as error:  # SamplingConfig's own checks
        raise WireError(f"sampling: {error}") from None


def _rng(value: Any) -> np.random.Generator | VariationRng:
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind == "pcg64":
        return _generator(value, "rng")
    if kind == "variation":
        fields = _record(value, VARIATION_KEYS, "rng")
        rng = VariationRng(0, 0, _integer(fields["left"], "rng left", *INT64))
        rng.first, rng.second = (
            _generator(fields["first"], "rng first"),
            _generator(fields["second"], "rng second"),
        )
        return rng
    raise WireError(f"rng must be a map of kind 'pcg64' or 'variation', not {_shown(kind)}")


def _generator(value: Any, what: str) -> np.random.Generator:
    fields = _record(value, PCG64_KEYS, what)
    if fields["kind"] != "pcg64":
        raise WireError(f"{what} must be of kind 'pcg64', not {_shown(fields['kind'])}")
    state = {
        "bit_generator": "PCG64",
        "state": {
            "state": _uint128(fields["state"], f"{what} state"),
            "inc": _uint128(fields["inc"], f"{what} inc"),
        },
        "has_uint32": _integer(fields["has_uint32"], f"{what} has_uint32", 0, 1),
        "uinteger": _integer(fields["uinteger"], f"{what} uinteger", 0, 2**32 - 1),
    }
    bits = np.random.PCG64(0)
    bits.state = state
    return np.random.Generator(bits)


def _uint128(value: Any, what: str) -> int:
    if not isinstance(value, bytes) or len(value) != 16:
        raise WireError(f"{what} must be 16 bytes")
    return int.from_bytes(value, "big")


def _state(value: Any) -> list[np.ndarray]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_STATE_ARRAYS:
        raise WireError(f"state must be a list of 1 to {MAX_STATE_ARRAYS} arrays")
    return [_array(item, f"state array {i}") for i, item in enumerate(value)]


def _array(value: Any, what: str) -> np.ndarray:
    """One (1, units) float32 row of an initial state."""
    fields = _record(value, ARRAY_KEYS, what)
    if fields["dtype"] != STATE_DTYPE.str:
        raise WireError(f"{what} must be of dtype {STATE_DTYPE.str}, not {_shown(fields['dtype'])}")
    shape = fields["shape"]
    if not isinstance(shape, list) or len(shape) != 2:
        raise WireError(f"{what} must have a shape of (1, units)")
    _integer(shape[0], f"{what} rows", 1, 1)
    units = _integer(shape[1], f"{what} units", 1, MAX_STATE_UNITS)
    data = fields["data"]
    if not isinstance(data, bytes) or len(data) != units * STATE_DTYPE.itemsize:
        raise WireError(f"{what} must hold {units} float32 numbers")
    array = np.frombuffer(data, STATE_DTYPE).reshape(1, units).astype(np.float32)
    if not np.isfinite(array).all():
        raise WireError(f"{what} holds numbers that are not finite")
    return array


def _painting(value: Any) -> dict:
    fields = _record(value, PAINTING_KEYS, "painting")
    size = _integer(fields["size"], "painting size", 1, MAX_CANVAS)
    kinds = fields["kinds"]
    if not isinstance(kinds, list) or len(kinds) > len(KINDS) or any(k not in KINDS for k in kinds):
        raise WireError(f"painting kinds must be a list of at most {len(KINDS)} of {KINDS}")
    return {
        "size": size,
        "kinds": tuple(kinds),
        "grid": _integer(fields["grid"], "painting grid", 0, size),
    }


def task_of(meta: ModelMetadata) -> str | None:
    """The task a step model serves (its deployment's key); None for other files."""
    return meta.extra.get("task") if meta.kind == CHARLM else None
