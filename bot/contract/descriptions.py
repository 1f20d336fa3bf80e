"""What the bot tells people about a loaded model (Discord's /models, the console's
/models, `python -m bot models --json`): one description, read from the file's metadata."""

from __future__ import annotations

from typing import Protocol

from bot.contract.metadata import ModelMetadata


class Described(Protocol):
    """A model with a name: a loaded model (`bot.runtime.engine.LoadedModel`) is one."""

    name: str
    metadata: ModelMetadata


KEY_METRICS = (
    "delta_e_mean",
    "val_nats_per_token",
    "val_bits_per_token",
    "held_out_nats_per_char",
    "held_out_nats_per_char_int8",
    "val_nats_per_char",
    "val_nats_per_char_with_image",
    "bits_per_pixel",
)


def describe(model: Described) -> dict:
    meta = model.metadata
    return {
        "name": model.name,
        "kind": meta.kind,
        "data": [str(d.get("file") or d.get("folder") or "?") for d in meta.data_sources],
        "metrics": {k: meta.metrics[k] for k in KEY_METRICS if k in meta.metrics},
        "trained": meta.trained_at[:10] or None,
    }


def summary(model: Described) -> str:
    """Three short lines: kind and data, key metrics, training date."""
    info = describe(model)
    metrics = ", ".join(f"{k} {v}" for k, v in info["metrics"].items())
    return (
        f"kind {info['kind']} · data {', '.join(info['data']) or '?'}\n"
        f"{metrics or 'no metrics'}\ntrained {info['trained'] or '?'}"
    )
