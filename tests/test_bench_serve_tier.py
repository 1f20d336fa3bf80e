"""The inference tier's benchmark in its quickest mode (apart from the other benchmarks:
it starts Ray, so it takes its turn with the other files that do)."""

import sys

import pytest

from tests.test_bench_scripts import BENCH, run

pytestmark = pytest.mark.bench


def test_the_inference_tier_benchmark_runs_in_its_quickest_mode():
    pytest.importorskip("ray.serve")
    assert "replica" in run(sys.executable, str(BENCH / "serve_tier.py"), "--smoke")
