"""The inference tier on Ray Serve: replicas that step the language models for every bot
process (`pip install -e ".[scale]"`).

Each replica holds an engine and the continuous batchers of the serving core, so the
generations that reach one replica from any bot process share its step calls. A
generation travels as itself (prompt, sampling, random generator, initial state; no
callbacks) and its tokens come back as a streaming response, a few at a time. Replica
count, autoscaling and CPUs (or `num_gpus`) per replica come from Serve's own config file
(`deploy/serve.yaml`).

Run it with `serve run deploy/serve.yaml` (or `serve deploy` on a cluster), or in-process
for tests with `start_local`.
"""

from __future__ import annotations

import asyncio
import copy
import os
import pickle
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future
from pathlib import Path

from ray import serve

from bot.batching import BatcherPool, Generation
from bot.config import DEFAULT_MODEL_DIR
from bot.engine import InferenceEngine
from bot.lm import StepGraph
from bot.model_specs import CHARLM

APP_NAME = "rnnbot"
DEPLOYMENT = "StepServer"
CHUNK_SECONDS = 0.05  # tokens are sent in chunks at most this far apart


def to_wire(generation: Generation, now: float) -> bytes:
    """The generation without what only makes sense here (callbacks, its future) and its
    deadline as seconds left, since clocks differ between machines."""
    wire = copy.copy(generation)  # the caller's generation keeps its callbacks
    wire.on_token, wire.future = None, None
    if hasattr(wire, "on_rows"):  # a painting's progress callback
        wire.on_rows = None
    left = None if generation.deadline is None else max(0.0, generation.deadline - now)
    return pickle.dumps((wire, left))


def from_wire(data: bytes) -> Generation:
    generation, left = pickle.loads(data)
    generation.future = Future()
    generation.tokens, generation.fed, generation.stop_reason = [], 0, None
    generation.deadline = None if left is None else time.monotonic() + left
    return generation


@serve.deployment(name=DEPLOYMENT, max_ongoing_requests=256)
class StepServer:
    """One replica: the models of `model_dir`, each with its batcher."""

    def __init__(self, model_dir: str | None = None, max_batch: int = 32) -> None:
        folder = Path(model_dir or os.environ.get("RNNBOT_MODEL_DIR", DEFAULT_MODEL_DIR))
        prefer_gpu = os.environ.get("RNNBOT_CPU_ONLY", "") in ("", "0")
        self.engine = InferenceEngine(folder, prefer_gpu=prefer_gpu)
        self.pool = BatcherPool(max_batch)
        self.engine.on_retire(self.pool.retire)
        self.engine.load_all()
        self.replica = serve.get_replica_context().replica_id.unique_id

    def models(self) -> dict:
        """What this replica serves (for `/models`)."""
        return {
            "replica": self.replica,
            "models": {name: m.mtime_ns for name, m in sorted(self.engine.models.items())},
            "providers": self.engine.providers.providers,
        }

    def reload(self) -> dict:
        """Re-read this replica's files: changed models are swapped in as in-process
        (running generations finish on the old one), so a reload fails no request."""
        return {"replica": self.replica, "report": self.engine.reload()}

    async def generate(self, model: str, data: bytes) -> AsyncIterator[list[int]]:
        """Run one generation on this replica's batcher; yield its new tokens in chunks.
        If the caller goes away, the generation is cancelled at its next step."""
        generation = from_wire(data)
        graph = StepGraph(self.engine.get(model, CHARLM))
        sent = 0
        self.pool.submit(graph, generation)
        done = asyncio.wrap_future(generation.future)
        try:
            while True:
                finished = await asyncio.wait({done}, timeout=CHUNK_SECONDS)
                tokens = list(generation.tokens)
                if len(tokens) > sent:
                    yield tokens[sent:]
                    sent = len(tokens)
                if finished[0]:
                    done.result()  # raises what the generation raised
                    return
        finally:
            generation.cancel("The bot stopped waiting for this generation.")


def app(args: dict | None = None) -> serve.Application:
    """The Serve application (`import_path: bot.serve_app:app`); `args` may name the
    `model_dir` and `max_batch`."""
    args = args or {}
    return StepServer.bind(args.get("model_dir"), int(args.get("max_batch", 32)))


def start_local(model_dir: Path, replicas: int = 1) -> serve.handle.DeploymentHandle:
    """Run the application on the local Ray instance (tests, the benchmark)."""
    deployment = StepServer.options(num_replicas=replicas, ray_actor_options={"num_cpus": 0})
    return serve.run(deployment.bind(str(model_dir)), name=APP_NAME, route_prefix=None)
