"""The inference tier's wire format: a generation travels as plain data, a replica runs it
as the bot would have, and a message that is not a generation is refused, never run."""

import pickle
import time

import msgpack
import numpy as np
import pytest

pytest.importorskip("ray")

from bot.contract.signatures import CHARLM  # noqa: E402
from bot.paint.service import Painter  # noqa: E402
from bot.runtime.batching import BatcherPool, Generation  # noqa: E402
from bot.runtime.engine import InferenceEngine  # noqa: E402
from bot.runtime.lm import StepGraph  # noqa: E402
from bot.runtime.pixels import VariationRng  # noqa: E402
from bot.runtime.sampling import SamplingConfig  # noqa: E402
from bot.runtime.wire import from_wire, to_wire  # noqa: E402


class RunsCode:
    """Unpickling this creates `marker`: what a crafted pickle could do in a replica."""

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def test_a_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"
    payload = pickle.dumps((RunsCode(marker), None))  # the shape of the old messages
    with pytest.raises(ValueError, match="not a generation message"):
        from_wire(payload)
    assert not marker.exists()


@pytest.fixture(scope="module")
def steps(model_dir):
    """The tiny writing model's and the painter's step graphs, and a pool to run them."""
    engine = InferenceEngine(model_dir, prefer_gpu=False)
    engine.load_all()
    pool = BatcherPool(8)
    yield StepGraph(engine.get("tiny", CHARLM)), StepGraph(engine.get("monet", CHARLM)), pool
    pool.close(grace=1.0)


def writing(graph: StepGraph, deadline: float | None = None) -> Generation:
    """A /write-like generation with top-k and top-p, from a random generator already
    used (its state, not its seed, must travel) and a random initial state."""
    rng = np.random.default_rng([7, 1])
    rng.random(3)
    state = [rng.normal(size=s.shape).astype(np.float32) for s in graph.zero_state(1)]
    return Generation(
        [1, 2, 3],
        60,
        SamplingConfig(0.9, 5, 0.95),
        rng,
        end_token=0,
        banned=[4],
        state=state,
        deadline=deadline,
        on_token=lambda tokens: None,
    )


def painting(graph: StepGraph, deadline: float | None = None) -> Generation:
    """A /paint variation: two generators, switching after the top half."""
    painter = Painter(graph)
    rng = VariationRng(3, 4, painter.steps - painter.size * painter.size // 2)
    return painter.generation(1.0, rng, on_rows=lambda canvas, rows: None, deadline=deadline)


@pytest.mark.parametrize("make", [writing, painting], ids=["write", "paint"])
def test_a_generation_runs_the_same_after_the_wire(steps, make):
    text_graph, paint_graph, pool = steps
    graph = text_graph if make is writing else paint_graph
    now = time.monotonic()
    sent = from_wire(to_wire(make(graph, deadline=now + 30), now))
    assert type(sent) is type(make(graph))
    assert sent.on_token is None and getattr(sent, "on_rows", None) is None  # stay local
    assert 29 < sent.deadline - time.monotonic() <= 30  # seconds left, not a clock reading
    here = pool.submit(graph, make(graph)).result(30)
    there = pool.submit(graph, sent).result(30)
    assert there == here and len(here) > 10


def valid_message() -> dict:
    state = [np.zeros((1, 4), np.float32)]
    generation = Generation([1, 2], 10, SamplingConfig(), np.random.default_rng(1), state=state)
    return msgpack.unpackb(to_wire(generation, 0.0))


def changed(path: str, value) -> bytes:
    """A valid message with one field (a dotted path; "-" deletes it) replaced."""
    message = valid_message()
    *parents, last = path.split(".")
    node = message
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value == "-":
        del node[last]
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return msgpack.packb(message)


RAW = ""  # the case's value is the whole message


MALFORMED = [
    (RAW, b"", "not a generation message"),
    (RAW, msgpack.packb([1, 2, 3]), "must be a map"),
    (RAW, msgpack.packb(msgpack.ExtType(5, b"x")), "extension type 5"),
    ("version", 2, "version 2"),
    ("prompt", "-", "lacks \\['prompt'\\]"),
    ("extra", 1, "unknown keys"),
    ("prompt", [], "prompt must have 1 to"),
    ("prompt", "the king", "prompt must be a list"),
    ("prompt", [1, -1], "prompt token must be from 0"),
    ("prompt", [1, True], "whole number, not bool"),
    ("max_new", 1 << 40, "max_new must be from 1"),
    ("sampling.temperature", float("nan"), "temperature must be from 0 to 5"),
    ("sampling.top_p", 0.0, "top_p must be in"),
    ("rng.kind", "mt19937", "kind 'pcg64' or 'variation'"),
    ("rng.state", b"\x01\x02", "rng state must be 16 bytes"),
    ("rng.uinteger", 2**40, "uinteger must be from 0"),
    ("state.0.dtype", "|O", "dtype <f4"),
    ("state.0.shape", [1, 5], "must hold 5 float32"),
    ("state.0.data", np.full(4, np.inf, np.float32).tobytes(), "not finite"),
    ("seconds_left", -1.0, "seconds_left must be from 0"),
    ("painting", {"size": 8, "kinds": ["__import__"], "grid": 0}, "kinds"),
]


@pytest.mark.parametrize(("path", "value", "error"), MALFORMED, ids=[e for *_, e in MALFORMED])
def test_a_malformed_message_is_refused_with_what_is_wrong(path, value, error):
    with pytest.raises(ValueError, match=error):
        from_wire(value if path == RAW else changed(path, value))


def test_a_message_that_does_not_fit_its_model_is_refused(steps):
    from bot.runtime.wire import check_fits

    text_graph, paint_graph, _ = steps
    vocabulary = len(text_graph.model.metadata.vocabulary)
    cases = [
        (Generation([vocabulary], 5, SamplingConfig(), np.random.default_rng(1)), text_graph),
        (writing(text_graph), paint_graph),  # no contexts for the painter's inputs
        (painting(paint_graph), text_graph),
    ]
    odd_state = writing(text_graph)
    odd_state.state = [np.zeros((1, 3), np.float32)] * len(odd_state.state)
    cases.append((odd_state, text_graph))
    for generation, graph in cases:
        with pytest.raises(ValueError, match=graph.model.name):
            check_fits(from_wire(to_wire(generation, 0.0)), graph)
    check_fits(from_wire(to_wire(writing(text_graph), 0.0)), text_graph)
    check_fits(from_wire(to_wire(painting(paint_graph), 0.0)), paint_graph)


def test_a_refused_message_is_not_blamed_on_a_restart():
    """A replica that cannot read a message (a bot and a tier of different versions)
    fails it for good: "try again" would fail the same way."""
    from bot.runtime.remote_pool import remote_failure
    from bot.runtime.wire import WireError

    failure = remote_failure(WireError("message version 2; this replica reads 1"))
    assert "could not read this request" in str(failure) and "try again" not in str(failure)
