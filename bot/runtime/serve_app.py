"""The inference tier on Ray Serve: replicas that step the language models for every bot
process (`pip install -e ".[scale]"`).

One deployment per kind of step model (`WriteSteps`, `CaptionSteps`, `PaintSteps`,
`NameSteps`), so each scales and is placed on its own: painting takes thousands of steps
per request, a name a dozen. Each replica holds an engine with its kind's files of the
model directory and the continuous batchers of the serving core, so the generations that
reach one replica from any bot process share its step calls. A generation travels as
plain data (msgpack: prompt, sampling, the random generator's state, initial state; no
callbacks, no pickle), checked field by field on arrival, and its tokens come back as a
streaming response, a few at a time. The application's entry, `StepTier`,
tells bots which deployment serves which kind. Replica count, autoscaling and CPUs (or
`num_gpus`) per deployment come from Serve's own config file (`deploy/serve.yaml`).

Run it with `serve run deploy/serve.yaml` (or `serve deploy` on a cluster), or in-process
for tests with `start_local`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from ray import serve

from bot.config import DEFAULT_MODEL_DIR
from bot.contract.signatures import CHARLM
from bot.runtime.batching import BatcherPool
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph
from bot.runtime.wire import check_fits, from_wire, task_of

APP_NAME = "rnnbot"
INGRESS = "StepTier"
TASKS = ("write", "caption", "paint", "name")  # the step models' `task`, a deployment each
CHUNK_SECONDS = 0.05  # tokens are sent in chunks at most this far apart


def deployment_name(task: str) -> str:
    """The deployment that serves one task's step models: `WriteSteps` for "write"."""
    return f"{task.capitalize()}Steps"


@serve.deployment(max_ongoing_requests=256)
class StepServer:
    """One replica: the step models of one task in `model_dir`, each with its batcher."""

    def __init__(self, task: str, model_dir: str | None = None, max_batch: int = 32) -> None:
        folder = Path(model_dir or os.environ.get("RNNBOT_MODEL_DIR", DEFAULT_MODEL_DIR))
        prefer_gpu = os.environ.get("RNNBOT_CPU_ONLY", "") in ("", "0")
        serves = lambda meta: task_of(meta) == task  # noqa: E731
        self.engine = InferenceEngine(folder, prefer_gpu=prefer_gpu, serves=serves)
        self.pool = BatcherPool(max_batch)
        self.engine.on_retire(self.pool.retire)
        self.engine.load_all()
        context = serve.get_replica_context()
        self.replica, self.deployment = context.replica_id.unique_id, context.deployment

    def models(self) -> dict:
        """What this replica serves (for `/models`)."""
        return {
            "replica": self.replica,
            "deployment": self.deployment,
            "models": {name: m.mtime_ns for name, m in sorted(self.engine.models.items())},
            "providers": self.engine.providers.providers,
        }

    def reload(self) -> dict:
        """Re-read this replica's files: changed models are swapped in as in-process
        (running generations finish on the old one), so a reload fails no request."""
        report = self.engine.reload()
        return {"replica": self.replica, "deployment": self.deployment, "report": report}

    async def generate(self, model: str, data: bytes) -> AsyncIterator[list[int]]:
        """Run one generation on this replica's batcher; yield its new tokens in chunks.
        If the caller goes away, the generation is cancelled at its next step."""
        generation = from_wire(data)
        graph = StepGraph(self.engine.get(model, CHARLM))
        check_fits(generation, graph)
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


@serve.deployment(name=INGRESS, num_replicas=1, ray_actor_options={"num_cpus": 0})
class StepTier:
    """The application's entry: which deployment serves which task. Bots then call the
    step deployments directly, so a request makes one hop, not two."""

    def __init__(self, **steps: serve.handle.DeploymentHandle) -> None:
        self.steps = {task: handle.deployment_name for task, handle in steps.items()}

    def routes(self) -> dict[str, str]:
        return dict(self.steps)


def build(
    model_dir: str | None,
    max_batch: int = 32,
    tasks: tuple[str, ...] = TASKS,
    options: Mapping[str, dict] | None = None,
) -> serve.Application:
    """The application: a step deployment per task, with Serve `options` per task."""
    steps = {
        task: StepServer.options(name=deployment_name(task), **(options or {}).get(task, {})).bind(
            task, model_dir, max_batch
        )
        for task in tasks
    }
    return StepTier.bind(**steps)


def app(args: dict | None = None) -> serve.Application:
    """The Serve application (`import_path: bot.runtime.serve_app:app`); `args` may name the
    `model_dir`, `max_batch` and the `tasks` to serve (all four by default)."""
    args = args or {}
    tasks = tuple(args.get("tasks", TASKS))
    return build(args.get("model_dir"), int(args.get("max_batch", 32)), tasks)


def start_local(
    model_dir: Path,
    replicas: Mapping[str, int] | None = None,
    cpus: Mapping[str, float] | None = None,
) -> serve.handle.DeploymentHandle:
    """Run the application on the running Ray instance (tests, the benchmark): one replica
    per task unless `replicas` says otherwise, using no CPUs unless `cpus` says so."""
    options = {
        task: {
            "num_replicas": (replicas or {}).get(task, 1),
            "ray_actor_options": {"num_cpus": (cpus or {}).get(task, 0)},
        }
        for task in TASKS
    }
    application = build(str(model_dir), options=options)
    return serve.run(application, name=APP_NAME, route_prefix=None)
