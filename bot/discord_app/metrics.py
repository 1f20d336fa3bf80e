"""Prometheus metrics of one bot process, and its `/metrics`, `/healthz` and `/readyz`.

Counters that events move (requests, errors, latency per command) are kept here; the
rest is read from the serving core when Prometheus scrapes (waiting line and running
jobs per model, batch occupancy, tokens stepped, the provider in use, reloads), so the
numbers cannot drift from what they describe. The HTTP side is a small aiohttp app on
`RNNBOT_METRICS_PORT` (off when unset), listening on `RNNBOT_METRICS_HOST` (127.0.0.1
unless set: it has no authentication, so it is reachable from elsewhere only when asked).

Labels never carry a server's private names: a style trained from Discord is counted
under "trained", not under its name (see `model_label`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.discord_app.admission import Admission
from bot.services import Services

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)
TRAINED = "trained"  # the label of every style trained from Discord


def model_label(name: str) -> str:
    """The `model` label of a model. Shipped models keep their names; a style trained from
    Discord is named "<guild_id>/<style>" by the engine, and that name is the server's
    business (whoever scrapes the metrics would learn every server's style names and which
    server uses the bot), so all of them share one label."""
    return TRAINED if "/" in name else name


def per_label(stats: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The pool's numbers per `model_label`: those of the trained styles summed, with the
    number of batchers they add up (for the occupancy of their batches together)."""
    totals: dict[str, dict[str, int]] = {}
    for model, numbers in stats.items():
        total = totals.setdefault(model_label(model), {"active": 0, "tokens": 0, "batchers": 0})
        total["active"] += numbers["active"]
        total["tokens"] += numbers["tokens"]
        total["batchers"] += 1
    return totals


class ServingCollector(Collector):
    """What the models are doing now, read at scrape time."""

    def __init__(self, services: Services, admission: Admission) -> None:
        self.services = services
        self.admission = admission

    def collect(self) -> Iterable[Metric]:
        running = GaugeMetricFamily("rnnbot_jobs_running", "Jobs running per lane", labels=["lane"])
        waiting = GaugeMetricFamily("rnnbot_jobs_waiting", "Waiting line per lane", labels=["lane"])
        for lane, (now_running, now_waiting) in sorted(self.admission.lanes().items()):
            running.add_metric([lane], now_running)
            waiting.add_metric([lane], now_waiting)
        occupancy = GaugeMetricFamily(
            "rnnbot_batch_occupancy",
            "Generations in the batch over its capacity (trained styles: over all of theirs)",
            labels=["model"],
        )
        tokens = CounterMetricFamily(
            "rnnbot_tokens", "Tokens stepped per model (restarts at a reload)", labels=["model"]
        )
        capacity = self.services.pool.max_batch
        for label, total in sorted(per_label(self.services.pool.stats()).items()):
            occupancy.add_metric([label], total["active"] / (capacity * total["batchers"]))
            tokens.add_metric([label], total["tokens"])
        engine = self.services.engine
        provider = GaugeMetricFamily(
            "rnnbot_provider", "The onnxruntime provider in use (1)", labels=["provider"]
        )
        for name in engine.providers.providers or []:
            provider.add_metric([name], 1)
        models = GaugeMetricFamily("rnnbot_models_loaded", "Models in service")
        models.add_metric([], len(engine.models))
        reloads = CounterMetricFamily("rnnbot_reloads", "Reloads run since start")
        reloads.add_metric([], engine.reloads)
        yield from (running, waiting, occupancy, tokens, provider, models, reloads)


class BotMetrics:
    """The process's registry: command counters plus the serving collector."""

    def __init__(self, services: Services, admission: Admission) -> None:
        self.host = services.settings.metrics_host  # where `start_endpoint` listens
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rnnbot_requests", "Commands and button presses", ["command"], registry=self.registry
        )
        self.errors = Counter(
            "rnnbot_errors", "Requests that ended in an error", ["command"], registry=self.registry
        )
        self.latency = Histogram(
            "rnnbot_request_seconds",
            "From the interaction to its answer",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(ServingCollector(services, admission))

    def started(self, command: str) -> float:
        self.requests.labels(command).inc()
        return time.perf_counter()

    def finished(self, command: str, started: float, failed: bool) -> None:
        self.latency.labels(command).observe(time.perf_counter() - started)
        if failed:
            self.errors.labels(command).inc()

    def scrape(self) -> bytes:
        return generate_latest(self.registry)


async def start_endpoint(
    metrics: BotMetrics, ready: Callable[[], bool], port: int, host: str | None = None
) -> tuple[web.AppRunner, int]:
    """Serve `/metrics`, `/healthz` (the process answers) and `/readyz` (connected to
    Discord with models loaded) on `host` (by default the settings' `metrics_host`,
    loopback unless configured); returns the runner (to clean up) and the bound port."""
    host = host or metrics.host

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.scrape(), content_type="text/plain", charset="utf-8")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(request: web.Request) -> web.Response:
        return web.Response(text="ready") if ready() else web.Response(text="not ready", status=503)

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]
    log.info("metrics on http://%s:%d/metrics", host, bound)
    return runner, bound
