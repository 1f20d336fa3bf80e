"""A node of the Ray cluster leaves and joins while the inference tier serves."""

import time

import pytest

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")

from bot.config import Settings  # noqa: E402
from bot.serve_app import start_local  # noqa: E402
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
