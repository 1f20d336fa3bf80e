"""`python -m training recipe gpu|ship`: retrain every shipped model on one GPU with one
command, then ship the ones that beat their predecessors (see docs/training.md)."""

from __future__ import annotations

from pathlib import Path


def register(actions) -> None:
    """Add `recipe gpu` and `recipe ship` to the `python -m training` parser."""
    from training.recipe.jobs import JOB_NAMES

    kinds = actions.add_parser(
        "recipe", help="retrain every shipped model on one GPU (gpu), then ship the better ones"
    ).add_subparsers(dest="kind", required=True)
    p = kinds.add_parser(
        "gpu",
        help="train stronger versions of the shipped models within a wall-time budget "
        "(KERAS_BACKEND=jax on a GPU; no TensorFlow needed); writes only weights and run "
        "configs",
    )
    p.set_defaults(handler="training.recipe.gpu:gpu_main")
    p.add_argument(
        "--minutes", type=float, help="wall time for the whole run (--tiny: 10, never reached)"
    )
    p.add_argument("--out", type=Path, required=True, help="empty folder for weights + recipe.json")
    p.add_argument("--data-root", type=Path, default=Path("data"), help="the data folder")
    p.add_argument("--only", action="append", choices=JOB_NAMES, help="train only these")
    p.add_argument("--tiny", action="store_true", help="tiny models on tiny data made here (CI)")

    p = kinds.add_parser(
        "ship",
        help="export, check, quantize and evaluate what `recipe gpu` made; replace a shipped "
        "model only if the new one is better (CPU, TensorFlow)",
    )
    p.set_defaults(handler="training.recipe.ship:ship_main")
    p.add_argument("--from", dest="source", type=Path, required=True, help="recipe gpu's --out")
    p.add_argument("--model-dir", type=Path, default=Path("exported_models"))
    p.add_argument("--data-root", type=Path, default=Path("data"), help="the data folder")
    p.add_argument("--tiny", action="store_true", help="the output of `recipe gpu --tiny`")
    p.add_argument(
        "--dry-run", action="store_true", help="evaluate and print the table; replace nothing"
    )
