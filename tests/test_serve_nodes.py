"""The Ray cluster's nodes: one leaves and joins while the inference tier serves, and the
compose deployment starts them privately, with token authentication."""

import re
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")

from bot.config import Settings  # noqa: E402
from bot.runtime.serve_app import start_local  # noqa: E402
from bot.services import Services  # noqa: E402
from bot.write.service import WriteRequest  # noqa: E402
from tests.remote_faults import (  # noqa: E402
    assert_answered_or_told_to_retry,
    outcomes_of_writes_during,
)


def test_a_node_leaving_and_joining(model_dir):
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, logging_level="ERROR")
    start_local(model_dir, replicas={"write": 2}, cpus={"write": 1})  # one per node
    services = Services.start(
        Settings(model_dir=model_dir, prefer_gpu=False, serve_address=cluster.address)
    )
    try:
        assert len(write_replicas(services)) == 2

        leave = lambda: cluster.remove_node(worker)  # noqa: E731  (its replica goes with it)
        assert_answered_or_told_to_retry(outcomes_of_writes_during(services, 6, leave))
        assert len(services.write.write(WriteRequest("tiny", "the", 60, 0.8, 1)).text) == 63

        cluster.add_node(num_cpus=1)  # Serve places the missing replica on the new node
        deadline = time.monotonic() + 90
        while len(write_replicas(services)) < 2:
            assert time.monotonic() < deadline, "the second replica never came back"
            time.sleep(1)
    finally:
        services.close(grace=1.0)
        serve.shutdown()
        ray.shutdown()
        cluster.shutdown()


def write_replicas(services) -> list[dict]:
    return [r for r in services.pool.replicas() if r["deployment"] == "WriteSteps"]


def compose_services(name: str = "compose.yaml") -> dict[str, dict]:
    import yaml

    path = Path(__file__).resolve().parent.parent / "deploy" / name
    return yaml.safe_load(path.read_text(encoding="utf-8"))["services"]


def test_the_compose_deployment_is_private_and_authenticated():
    """Whoever reaches Ray's ports can run code on every node: none is published, the
    dashboard stays on the head's loopback, every Ray node uses token authentication with
    the shared token, and the Discord token is only where the bot needs it."""
    services = compose_services()
    ray_nodes = {name: s for name, s in services.items() if "ray start" in str(s["command"])}
    assert set(ray_nodes) == {"ray-head", "ray-worker", "bot"}
    for name, service in services.items():
        assert not service.get("ports"), f"{name} publishes {service['ports']}"
        assert "0.0.0.0" not in str(service["command"]), name
    assert re.search(r"--dashboard-host=\S*127\.0\.0\.1", ray_nodes["ray-head"]["command"])
    for name, service in ray_nodes.items():
        environment = service["environment"]
        assert environment["RAY_AUTH_MODE"] == "token", name
        token_dir = str(Path(environment["RAY_AUTH_TOKEN_PATH"]).parent)
        assert f"ray-auth:{token_dir}:ro" in service["volumes"], name
    for name, service in services.items():
        has_token = "DISCORD_TOKEN" in (service.get("environment") or {})
        assert has_token == (name == "bot"), name
    assert "env -u DISCORD_TOKEN ray start" in services["bot"]["command"]  # not in its raylet


def test_the_dashboard_opt_in_publishes_on_loopback_only():
    head = compose_services("compose.dashboard.yaml")["ray-head"]
    assert head["ports"] and all(port.startswith("127.0.0.1:") for port in head["ports"])
