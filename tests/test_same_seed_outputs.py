"""The same seed gives the same output wherever the model is unchanged, however fast the
serving path gets: each service's answer equals the plainest possible loop over the step
graph (one step call, `context_at` and `sample` per token), and the shipped models'
answers for fixed seeds are pinned."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from bot.contract.pixels import KINDS, context_at, context_kinds, stream_length
from bot.paint.service import PaintRequest, PaintService
from bot.runtime.batching import BatcherPool
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph, generate
from bot.runtime.pixels import VariationRng, context_table
from bot.runtime.sampling import SamplingConfig, sample
from bot.write.service import WriteRequest, WriteService

SHIPPED = Path(__file__).resolve().parent.parent / "exported_models"


def plain_painting(graph: StepGraph, seed: int, temperature: float, rng=None) -> np.ndarray:
    """A painting the slow, obvious way: a step call and a `sample` per pixel."""
    extra = graph.model.metadata.extra
    size, start = int(extra["size"]), int(extra["start_token"])
    kinds, grid = context_kinds(extra.get("contexts", [])), int(extra.get("thumbnail", 0))
    rng = rng or np.random.default_rng(seed)
    state, tokens, token = graph.zero_state(1), [], start
    for _ in range(stream_length(size, grid)):
        contexts = [np.array([c], np.int32) for c in context_at(tokens, size, start, kinds, grid)]
        logits, state = graph(np.array([token], np.int32), state, contexts)
        logits = logits[0].copy()
        logits[start] = -np.inf
        token = sample(logits, SamplingConfig(temperature), rng)
        tokens.append(token)
    return np.array(tokens[grid * grid :]).reshape(size, size)


def painting_hash(indices: np.ndarray) -> str:
    return hashlib.sha256(indices.astype(np.int64).tobytes()).hexdigest()[:16]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize(("seed", "temperature"), [(3, 1.0), (4, 0.4), (5, 1.7)])
def test_a_painting_is_the_plain_loops(services, seed, temperature):
    graph = services.paint.painter(None).graph
    result = services.paint.paint(PaintRequest(seed=seed, temperature=temperature))
    assert (result.indices == plain_painting(graph, seed, temperature)).all()


def test_paintings_sharing_steps_are_each_the_plain_loops(services):
    graph = services.paint.painter(None).graph
    jobs = [services.paint.submit(PaintRequest(seed=s)) for s in range(6)]
    for seed, job in enumerate(jobs):
        assert (job.result().indices == plain_painting(graph, seed, 1.0)).all()


@pytest.mark.parametrize("kinds", [KINDS, ("above", "column"), ("row", "coarse_below"), ()])
@pytest.mark.parametrize("grid", [0, 4])
def test_context_table_reads_what_context_at_computes(kinds, grid):
    size, none = 8, 6
    rng = np.random.default_rng(grid)
    tokens = rng.integers(0, none, stream_length(size, grid)).tolist()
    steps = len(tokens)
    source = np.array([*tokens, none, *range(size)], np.int32)
    table = context_table(size, kinds, grid)
    for step in range(steps):
        expected = context_at(tokens[:step], size, none, kinds, grid)
        assert source[table[step]].tolist() == list(expected), step


def test_write_is_the_plain_loop(services, model_dir):
    graph = StepGraph(services.engine.models["tiny"])
    for seed, temperature in ((1, 0.8), (2, 0.0), (3, 1.5)):
        request = WriteRequest("tiny", "the ", length=120, temperature=temperature, seed=seed)
        result = services.write.write(request)
        style = services.write.style_model("tiny")
        prompt = style.vocabulary.encode("the ").ids.tolist()
        rng = np.random.default_rng(seed)
        plain = generate(graph, graph.zero_state(), prompt, 120, SamplingConfig(temperature), rng)
        assert result.text == "the " + style.vocabulary.decode(list(plain))


# Recorded from the shipped files since their int8 products have fixed activation scales
# (`training.int8_static`: new files, so new texts and paintings; greedy decoding kept its
# text). Floating point kernels differ between CPU families, so on another machine a rare
# sampled token may differ: the plain-loop tests above are what hold everywhere.
SHIPPED_PAINTINGS = {
    (1, None, 1.0): "26cd7a777e758972",
    (7, 9, 1.0): "19cf125046717740",
}
SHIPPED_TEXTS = {
    ("shakespeare", 0.8, 0, 1.0): "c22a251c5913e87e",
    ("shakespeare", 0.8, 5, 1.0): "7ad8c4eb56ae8d27",
    ("shakespeare", 0.8, 0, 0.9): "1ead2950987000bb",
    ("shakespeare", 0.0, 0, 1.0): "06bd63e0fba4a46e",
    ("nietzsche", 0.8, 0, 1.0): "b135dc9d2fda019f",
}


@pytest.fixture(scope="module")
def shipped():
    if not (SHIPPED / "monet.onnx").exists():
        pytest.skip("no shipped models")
    engine = InferenceEngine(SHIPPED, prefer_gpu=False, threads=1, spin=False)
    engine.load_all()
    pool = BatcherPool()
    yield PaintService(engine, pool), WriteService(engine, pool)
    pool.close()


@pytest.mark.parametrize(("seed", "variation", "temperature"), list(SHIPPED_PAINTINGS))
def test_shipped_painter_paints_what_it_painted(shipped, seed, variation, temperature):
    paint, _ = shipped
    result = paint.paint(PaintRequest(seed=seed, temperature=temperature, variation=variation))
    assert painting_hash(result.indices) == SHIPPED_PAINTINGS[seed, variation, temperature]
    if variation is not None:  # and the plain loop agrees, variation generator and all
        painter = paint.painter(None)
        top = painter.steps - painter.size * painter.size // 2
        rng = VariationRng(seed, variation, top)
        plain = plain_painting(painter.graph, seed, temperature, rng)
        assert (plain == result.indices).all()


@pytest.mark.parametrize(("style", "temperature", "top_k", "top_p"), list(SHIPPED_TEXTS))
def test_shipped_styles_write_what_they_wrote(shipped, style, temperature, top_k, top_p):
    _, write = shipped
    request = WriteRequest(
        style, length=300, temperature=temperature, seed=11, top_k=top_k, top_p=top_p
    )
    text = write.write(request).text
    assert text_hash(text) == SHIPPED_TEXTS[style, temperature, top_k, top_p]


@pytest.mark.parametrize("style", ["shakespeare", "nietzsche"])
def test_a_shipped_style_writes_the_same_text_in_a_crowd(shipped, style):
    """A seed's text does not depend on who else is writing at the same time (their rows
    share the step calls) nor on the thread count of the step that serves the crowd."""
    _, write = shipped
    alone = write.write(WriteRequest(style, length=300, seed=11)).text
    jobs = [write.submit(WriteRequest(style, length=300, seed=s)) for s in range(11, 43)]
    assert jobs[0].result().text == alone


def test_the_shipped_painter_paints_the_same_in_a_crowd(shipped):
    paint, _ = shipped
    alone = paint.paint(PaintRequest(seed=7)).indices
    jobs = [paint.submit(PaintRequest(seed=s)) for s in (7, 1, 2, 3)]
    assert (jobs[0].result().indices == alone).all()
