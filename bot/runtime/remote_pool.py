"""The batcher pool's interface over a Ray Serve application (see `bot/runtime/serve_app.py`).

The services submit generations exactly as they do to the in-process `BatcherPool`; here
each one is sent to a replica of the deployment that serves its model's task, and its
tokens, streamed back, are fed to the local generation, so progress callbacks, deadlines
and results work unchanged. All streams run
as coroutines on one event-loop thread of this pool: no thread waits per request.

Faults reach the request as user-facing errors, never as a hang: a replica that dies
mid-generation fails the generation ("try again"); a local cancel or deadline cancels the
remote stream.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time

from bot.errors import ModelUnavailable, UserFacingError
from bot.runtime.batching import Generation, GenerationFailed, GenerationStopped, Pool, settle
from bot.runtime.engine import LoadedModel
from bot.runtime.lm import StepGraph
from bot.runtime.serve_app import APP_NAME, INGRESS
from bot.runtime.wire import WireError, task_of, to_wire

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often a quiet stream checks for a local cancel or deadline
RETRY_SECONDS = 10  # between attempts to reach an unreachable inference tier
REPLICA_PROBES = 12  # answers from known replicas in a row before all are taken as seen


class RemotePool(Pool):
    """`submit`/`submit_all`/`retire`/`stats`/`close` of a `BatcherPool`, served remotely."""

    def __init__(
        self, address: str | None = None, app_name: str = APP_NAME, max_batch: int = 32
    ) -> None:
        """Connects now if it can; if the tier cannot be reached, says so once in the log
        and, when requests come, tries again in the background (at most every
        RETRY_SECONDS): a request may come from the event loop, where Ray's blocking calls
        must not run, so it is refused at once instead of waiting for the attempt."""
        self.address, self.app_name, self.max_batch = address or "auto", app_name, max_batch
        self.steps: dict | None = None  # task -> handle of the deployment serving it
        self._last_try = -math.inf
        self._warned = False
        self._connecting = threading.Lock()  # held while an attempt runs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="remote-pool")
        self._thread.daemon = True
        self._thread.start()
        self._streams = 0
        self._closed = False
        self._connect()

    def _connect(self) -> bool:
        import ray
        from ray import serve

        self._last_try = time.monotonic()
        try:
            if not ray.is_initialized():
                ray.init(address=self.address, logging_level=logging.WARNING)
            ingress = serve.get_deployment_handle(INGRESS, app_name=self.app_name)
            routes = ingress.routes.remote().result(timeout_s=30)
            self.steps = {
                task: serve.get_deployment_handle(name, app_name=self.app_name)
                for task, name in routes.items()
            }
        except Exception as error:  # no cluster, no Serve, no application: retry later
            if not self._warned:
                log.error(
                    "the inference tier at %s (Serve application %r) cannot be reached: %s; "
                    "requests are refused until it can, retried every %d s",
                    self.address,
                    self.app_name,
                    error,
                    RETRY_SECONDS,
                )
                self._warned = True
            return False
        if self._warned:
            log.warning("the inference tier at %s is reachable again", self.address)
            self._warned = False
        return True

    def _ready(self) -> None:
        if self.steps is not None:
            return
        if time.monotonic() - self._last_try >= RETRY_SECONDS and self._connecting.acquire(
            blocking=False
        ):  # `_connect` stamps `_last_try`; the lock keeps attempts one at a time
            threading.Thread(target=self._connect_in_background, daemon=True).start()
        raise ModelUnavailable(
            "The inference service cannot be reached right now; try again in a minute."
        )

    def _connect_in_background(self) -> None:
        try:
            self._connect()
        finally:
            self._connecting.release()

    def submit(self, graph: StepGraph, generation: Generation) -> Generation:
        if self._closed:
            raise ModelUnavailable("The bot is shutting down.")
        if not generation.prompt:
            raise ValueError("a generation needs at least one prompt token")
        self._ready()
        task = task_of(graph.model.metadata)
        handle = self.steps.get(task)
        if handle is None:
            raise ModelUnavailable(
                f"The inference service does not serve {task or 'these'} models; "
                "ask the bot's owner to add them to its configuration."
            )
        data = to_wire(generation, time.monotonic())  # plain data, never pickle
        generation.future.set_running_or_notify_cancel()
        stream = self._stream(handle, graph.model.name, data, generation)
        asyncio.run_coroutine_threadsafe(stream, self._loop)
        return generation

    async def _stream(self, handle, model: str, data: bytes, generation: Generation) -> None:
        """Feed the replica's tokens to `generation` until it ends, one way or another."""
        self._streams += 1
        response = handle.options(stream=True).generate.remote(model, data)
        iterator = response.__aiter__()
        pending: asyncio.Future | None = None
        try:
            while True:
                stop = generation.due_stop(time.monotonic())
                if stop is not None:
                    response.cancel()
                    settle(generation, GenerationStopped(stop))
                    return
                pending = pending or asyncio.ensure_future(iterator.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=POLL_SECONDS)
                if not done:
                    continue
                try:
                    chunk = pending.result()
                except StopAsyncIteration:
                    settle(generation)
                    return
                pending = None
                for token in chunk:
                    if generation.accept(token):
                        response.cancel()
                        settle(generation)
                        return
        except Exception as error:  # the replica failed, died, or cannot be reached
            settle(generation, remote_failure(error))
        finally:
            self._streams -= 1
            if pending is not None and not pending.done():
                pending.cancel()

    def retire(self, model: LoadedModel) -> None:
        """Nothing to drain here: the replicas reload their own copies."""

    def stats(self) -> dict[str, dict[str, int]]:
        return {}

    def replicas(self) -> list[dict]:
        """What each replica of each deployment serves (for `/models`)."""
        return self._each_replica("models")

    def reload_replicas(self) -> list[dict]:
        """Reload every replica, one after another (each swap drains, so none fails)."""
        return self._each_replica("reload")

    def _each_replica(self, method: str) -> list[dict]:
        """Call `method` until every replica of every deployment has answered once. A call
        reaches one replica of Serve's choosing, so calls go on until no new replica has
        answered for a while; the methods are idempotent, so a replica reached twice is
        harmless."""
        self._ready()
        answers: list[dict] = []
        for task in sorted(self.steps):
            seen: dict[str, dict] = {}
            quiet = 0
            while quiet < REPLICA_PROBES:
                answer = getattr(self.steps[task], method).remote().result(timeout_s=60)
                quiet = 0 if answer["replica"] not in seen else quiet + 1
                seen.setdefault(answer["replica"], answer)
            answers += [seen[replica] for replica in sorted(seen)]
        return answers

    def close(self, grace: float = 5.0) -> None:
        self._closed = True
        deadline = time.monotonic() + grace
        while self._streams and time.monotonic() < deadline:
            time.sleep(0.05)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2.0)


def remote_failure(error: Exception) -> UserFacingError:
    """What the user reads when the inference tier fails them; the cause is logged."""
    cause = getattr(error, "cause", error)  # Ray wraps what the replica raised
    if isinstance(cause, UserFacingError):
        return cause
    log.error("remote generation failed", exc_info=error)
    if isinstance(cause, WireError):  # trying again would not help
        failed = GenerationFailed(
            "The inference service could not read this request (it may run another "
            "version of the bot); the error has been logged."
        )
        failed.__cause__ = error
        return failed
    failed = GenerationFailed(
        "The inference service lost this request (a worker restarted); please try again."
    )
    failed.__cause__ = error
    return failed
