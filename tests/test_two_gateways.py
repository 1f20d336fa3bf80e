"""The documented two-gateway example, run: two bot processes, one shard each, one tier."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))


def test_two_processes_each_answer_their_shard_through_one_tier(model_dir):
    import asyncio

    import ray
    from two_gateways import run

    if ray.is_initialized():
        ray.shutdown()
    answers = asyncio.run(run(model_dir, "tiny", timeout=90))
    assert [a.split(":")[0] for a in answers] == ["shard 0", "shard 1"]
    assert all("**tiny**" in a for a in answers)
