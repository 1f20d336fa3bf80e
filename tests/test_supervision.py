"""Faults injected at each point of the batching loop: the request at fault fails with a
clear error, the error is logged with its traceback, bystanders and later requests
complete (with the tokens they would have had alone), and nothing hangs."""

import logging
import threading

import numpy as np
import pytest

from bot.runtime.batching import Batcher, Generation, GenerationFailed
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph, generate
from bot.runtime.sampling import SamplingConfig

TIMEOUT = 30


@pytest.fixture()
def graph(model_dir):
    engine = InferenceEngine(model_dir, prefer_gpu=False)
    engine.load_all()
    return StepGraph(engine.models["tiny"])


def job(prompt=(1, 2), length=60, seed=1, **kwargs) -> Generation:
    return Generation(
        list(prompt), length, SamplingConfig(0.9), np.random.default_rng(seed), **kwargs
    )


def alone(graph, prompt=(1, 2), length=60, seed=1):
    return list(
        generate(
            graph,
            graph.zero_state(),
            list(prompt),
            length,
            SamplingConfig(0.9),
            np.random.default_rng(seed),
        )
    )


class ExplodingRng:
    """Stands in for a generator whose draw fails (a fault inside sampling)."""

    def random(self):
        raise FloatingPointError("injected sampling fault")


class OneContext:
    """The tiny model as if it read one context input (which it ignores), so that the
    batcher gathers context inputs for it, as it does for a painter."""

    contexts = ("position",)

    def __init__(self, graph):
        self.graph, self.model = graph, graph.model

    def zero_state(self, batch=1):
        return self.graph.zero_state(batch)

    def __call__(self, tokens, state, contexts=()):
        assert len(contexts) == 1
        return self.graph(tokens, state)


class WithContext(Generation):
    def next_contexts(self):
        return (0,)


class BadContexts(WithContext):
    def next_contexts(self):
        raise IndexError("injected context fault")


class BadInput(Generation):
    def next_input(self):
        if self.tokens:
            raise KeyError("injected next-input fault")
        return super().next_input()


def explode_on_token(tokens):
    if len(tokens) == 5:
        raise RuntimeError("injected callback fault")


FAULTS = {
    "callback": lambda: job(seed=9, on_token=explode_on_token),
    "admission (state shape)": lambda: job(seed=9, state=[np.zeros((1, 3), np.float32)]),
    # Prompts as long as the bystander's: both sample in the same step, after its draw.
    "sampling (the draw)": lambda: Generation([1, 2], 60, SamplingConfig(0.9), ExplodingRng()),
    "sampling (the choice)": lambda: job(seed=9, banned=[10**6]),
    "next input": lambda: BadInput([1], 60, SamplingConfig(0.9), np.random.default_rng(9)),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_faulty_request_fails_alone(graph, fault, caplog):
    batcher = Batcher(graph)
    gate = threading.Event()
    # The bystander waits at its first token until the faulty request has joined the batch.
    bystander = batcher.submit(job(seed=1, length=80, on_token=lambda t: gate.wait(TIMEOUT)))
    with caplog.at_level(logging.ERROR):
        faulty = batcher.submit(FAULTS[fault]())
        gate.set()
        with pytest.raises(GenerationFailed, match="error has been logged"):
            faulty.future.result(TIMEOUT)
        assert bystander.future.result(TIMEOUT) == alone(graph, length=80, seed=1)
    assert "Traceback" in caplog.text and "generation failed in" in caplog.text
    later = batcher.submit(job(seed=2))
    assert later.future.result(TIMEOUT) == alone(graph, seed=2)


def test_a_faulty_context_input_fails_alone(graph, caplog):
    batcher = Batcher(OneContext(graph))
    gate = threading.Event()
    wait = lambda tokens: gate.wait(TIMEOUT)  # noqa: E731
    bystander = WithContext(
        [1, 2], 80, SamplingConfig(0.9), np.random.default_rng(1), on_token=wait
    )
    batcher.submit(bystander)
    with caplog.at_level(logging.ERROR):
        faulty = batcher.submit(BadContexts([1], 60, SamplingConfig(0.9), np.random.default_rng(9)))
        gate.set()
        with pytest.raises(GenerationFailed, match="error has been logged"):
            faulty.future.result(TIMEOUT)
        assert bystander.future.result(TIMEOUT) == alone(graph, length=80, seed=1)
    assert "injected context fault" in caplog.text


class FlakyGraph:
    """The real step model, but the call fails once when told to."""

    def __init__(self, graph):
        self.graph, self.model, self.fail_next = graph, graph.model, threading.Event()
        self.contexts = graph.contexts

    def zero_state(self, batch=1):
        return self.graph.zero_state(batch)

    def __call__(self, tokens, state, contexts=()):
        if self.fail_next.is_set():
            self.fail_next.clear()
            raise RuntimeError("injected step-call fault")
        return self.graph(tokens, state, contexts)


def test_a_failing_step_call_fails_that_step_and_the_batcher_serves_on(graph, caplog):
    flaky = FlakyGraph(graph)
    batcher = Batcher(flaky)
    flaky.fail_next.set()
    with caplog.at_level(logging.ERROR):
        first = batcher.submit(job(seed=1))
        with pytest.raises(GenerationFailed):
            first.future.result(TIMEOUT)
    assert "injected step-call fault" in caplog.text
    later = [batcher.submit(job(seed=s)) for s in (3, 4)]
    assert [g.future.result(TIMEOUT) for g in later] == [alone(graph, seed=s) for s in (3, 4)]
