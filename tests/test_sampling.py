"""Sampler properties and generation over a step function."""

import warnings

import numpy as np
import pytest

from bot.runtime.lm import generate
from bot.runtime.sampling import SamplingConfig, next_token_probabilities, sample, sample_rows

RNG = np.random.default_rng(123)
LOGITS = [RNG.normal(size=30) for _ in range(50)]


def test_temperature_zero_is_argmax():
    for logits in LOGITS:
        token = sample(logits, SamplingConfig(0.0), np.random.default_rng(0))
        assert token == int(np.argmax(logits))


def test_same_seed_same_draws_and_different_seed_differs():
    def draws(seed):
        rng = np.random.default_rng(seed)
        return [sample(logits, SamplingConfig(1.0), rng) for logits in LOGITS]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)


def test_top_k_never_picks_outside_the_top_k():
    rng = np.random.default_rng(1)
    for logits in LOGITS:
        top = set(np.argsort(-logits)[:3].tolist())
        for _ in range(20):
            assert sample(logits, SamplingConfig(2.0, top_k=3), rng) in top


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    probs = next_token_probabilities(logits, SamplingConfig(1.0, top_p=0.75))
    assert probs[2] == 0 and probs[3] == 0
    assert probs[:2] == pytest.approx([0.625, 0.375])


def test_high_temperature_flattens():
    logits = np.array([2.0, 1.0, 0.0])
    cold = next_token_probabilities(logits, SamplingConfig(0.5))
    hot = next_token_probabilities(logits, SamplingConfig(2.0))
    assert cold[0] > hot[0] and cold[2] < hot[2]


@pytest.mark.parametrize("kwargs", [{"temperature": -1}, {"top_k": -2}, {"top_p": 0}])
def test_invalid_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        SamplingConfig(**kwargs)


def counting_step(vocab_size: int = 5):
    """A fake model: always predicts (last token + 1) mod V; counts its calls."""
    calls = []

    def step(tokens, state):
        calls.append(tokens.tolist())
        logits = np.full((len(tokens), vocab_size), -10.0)
        logits[np.arange(len(tokens)), (tokens + 1) % vocab_size] = 10.0
        return logits, [s + 1 for s in state]

    return step, calls


def test_generate_primes_with_the_prompt_then_samples():
    step, calls = counting_step()
    out = list(generate(step, [np.zeros((1, 2))], [0, 1, 2], 4, SamplingConfig(0), None))
    assert out == [3, 4, 0, 1]
    assert calls[:3] == [[0], [1], [2]]  # the whole prompt runs through the model first
    assert len(calls) == 3 + 4


def test_generate_stops_at_end_token():
    step, _ = counting_step()
    out = list(generate(step, [np.zeros((1, 2))], [1], 10, SamplingConfig(0), None, end_token=4))
    assert out == [2, 3]


@pytest.mark.parametrize("temperature", [1e-320, 5e-324, 1e-12, 1e-4])
def test_tiny_temperatures_are_greedy_and_never_overflow(temperature):
    logits = np.array([0.5, 3.0, -1.0, 2.9], np.float32)
    config = SamplingConfig(temperature)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow or a NaN would warn
        assert sample(logits, config, np.random.default_rng(0)) == 1
        rows = np.stack([logits, logits[::-1]])
        rngs = [np.random.default_rng(1), np.random.default_rng(2)]
        assert sample_rows(rows, [config, config], rngs, [(), ()]) == [1, 2]
