"""`recipe gpu`'s arithmetic, without training: the budget plan and what a GPU machine can
send back (8 files, 16 MiB each, 64 MiB in all). The chain itself, tiny, runs in .ci/run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.recipe.jobs import JOB_NAMES, JOBS
from training.recipe.plan import (
    EPOCH_OVERHEAD_SECONDS,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_TOTAL_BYTES,
    RUN_CONFIG,
    LimitError,
    Measure,
    Rule,
    check_outputs,
    check_planned,
    check_sizes,
    is_better,
    plan_budget,
    read_run_config,
    weights_bytes,
)

MiB = 1024 * 1024


def measure(epoch: float, compile_seconds: float = 0.0) -> Measure:
    """A model whose epoch takes `epoch` seconds (10 steps, no validation, the writes)."""
    return Measure(compile_seconds, (epoch - EPOCH_OVERHEAD_SECONDS) / 10, 10, 0.0, 0)


def test_the_budget_follows_the_shares_in_whole_epochs():
    measures = {"a": measure(10), "b": measure(10)}
    plan = plan_budget(300, measures, {"a": 2, "b": 1}, {"a": 100, "b": 100})
    # 200 s and 100 s, less half a second each for the last writes
    assert plan["a"].epochs == 19 and plan["b"].epochs == 9
    assert sum(a.seconds for a in plan.values()) <= 300


def test_time_a_capped_model_cannot_use_goes_to_the_others():
    measures = {"fast": measure(2), "slow": measure(10)}
    plan = plan_budget(300, measures, {"fast": 1, "slow": 1}, {"fast": 10, "slow": 100})
    assert plan["fast"].epochs == 10 and plan["fast"].seconds == pytest.approx(20.5)
    assert plan["slow"].epochs == 27  # the other 279.5 s, not half of 300
    assert sum(a.seconds for a in plan.values()) <= 300


def test_a_model_with_no_epoch_in_its_share_is_dropped_and_its_share_reused():
    measures = {"cheap": measure(5), "huge": measure(200)}
    plan = plan_budget(100, measures, {"cheap": 1, "huge": 1}, {"cheap": 100, "huge": 100})
    assert plan["huge"].epochs == 0 and plan["huge"].seconds == 0
    assert plan["cheap"].epochs == 19  # the whole 100 s, compile and overhead aside


def test_compiling_counts_against_a_share():
    plan = plan_budget(100, {"a": measure(10, compile_seconds=30)}, {"a": 1}, {"a": 100})
    assert plan["a"].epochs == 6


def test_no_time_left_trains_nothing():
    plan = plan_budget(-5, {"a": measure(1), "b": measure(1)}, {"a": 1, "b": 1}, {"a": 3, "b": 3})
    assert all(a.epochs == 0 for a in plan.values())


def test_the_limits_on_what_comes_back():
    check_sizes({f"f{i}": MAX_FILE_BYTES for i in range(4)})  # 64 MiB exactly
    with pytest.raises(LimitError, match="files"):
        check_sizes({f"f{i}": 1 for i in range(MAX_FILES + 1)})
    with pytest.raises(LimitError, match="over 16 MiB"):
        check_sizes({"big.weights.h5": MAX_FILE_BYTES + 1})
    with pytest.raises(LimitError, match="in all"):
        check_sizes({f"f{i}": 15 * MiB for i in range(5)})
    assert (8, 16 * MiB, 64 * MiB) == (MAX_FILES, MAX_FILE_BYTES, MAX_TOTAL_BYTES)


def test_the_output_folder_is_checked_as_it_is(tmp_path: Path):
    for i in range(MAX_FILES):
        with (tmp_path / f"m{i}.weights.h5").open("wb") as f:
            f.truncate(MiB)  # sparse: no bytes written
    assert len(check_outputs(tmp_path)) == MAX_FILES
    (tmp_path / "one-too-many.json").write_text("{}")
    with pytest.raises(LimitError):
        check_outputs(tmp_path)
    (tmp_path / "one-too-many.json").unlink()
    (tmp_path / "sub").mkdir()
    with pytest.raises(LimitError, match="plain file"):
        check_outputs(tmp_path)


def test_weights_are_sized_before_training():
    # 2 x 512 LSTM over 65 characters: about 3.3 million parameters, 13 MB: fits.
    sizes = check_planned({"shakespeare": 3_300_000, "nietzsche": 1_900_000})
    assert sizes["shakespeare.weights.h5"] == weights_bytes(3_300_000) < MAX_FILE_BYTES
    with pytest.raises(LimitError):  # 3 x 512 would not: 5.4 million parameters
        check_planned({"shakespeare": 5_400_000})
    with pytest.raises(LimitError):  # nor would six models of 12 MiB
        check_planned({n: 3_000_000 for n in JOB_NAMES})


def test_the_comparison_rule():
    rule = Rule("delta_e_mean", "CIEDE2000", "chroma_ratio", 0.9)
    assert is_better(rule, None, {"delta_e_mean": 30, "chroma_ratio": 0.1})[0]
    old = {"delta_e_mean": 18, "chroma_ratio": 0.91}
    assert is_better(rule, old, {"delta_e_mean": 17, "chroma_ratio": 0.9})[0]
    assert not is_better(rule, old, {"delta_e_mean": 17, "chroma_ratio": 0.8})[0]  # greyer
    assert not is_better(rule, old, {"delta_e_mean": 18.5, "chroma_ratio": 0.95})[0]
    assert not is_better(Rule("nats", "n"), {"nats": 1.30}, {"nats": 1.30})[0]


def test_every_job_is_a_train_command_that_parses(tmp_path: Path):
    from training.__main__ import build_parser

    for job in JOBS:
        for tiny in (False, True):
            build_parser().parse_args(job.train_argv(tmp_path, tmp_path / "run", tiny))
    assert sum(j.share for j in JOBS) == pytest.approx(1.0)
    args = build_parser().parse_args(["recipe", "gpu", "--minutes", "9", "--out", "x"])
    assert args.handler == "training.recipe.gpu:gpu_main"
    args = build_parser().parse_args(["recipe", "ship", "--from", "x"])
    assert args.model_dir == Path("exported_models")


def test_ship_reads_only_a_recipe_run_config(tmp_path: Path):
    from training.errors import UserError

    with pytest.raises(UserError, match="no recipe.json"):
        read_run_config(tmp_path)
    (tmp_path / RUN_CONFIG).write_text(json.dumps({"recipe": "gpu", "models": {}}))
    assert read_run_config(tmp_path)["models"] == {}
