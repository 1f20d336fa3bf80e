"""Facts about the training run that go into model metadata and cards."""

from __future__ import annotations

import datetime as dt
import platform
import shlex
import sys


def training_command(argv: list[str] | None = None) -> str:
    return "python -m training " + shlex.join(sys.argv[1:] if argv is None else argv)


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def hardware() -> str:
    """Where training ran, e.g. 'CPU x86_64 (2 cores)' or 'GPU: NVIDIA H100 (jax)'."""
    import os

    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if gpus:
            return f"GPU: {gpus[0].device_kind} (jax)"
    elif backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return "GPU (tensorflow)"
    return f"CPU {platform.machine()} ({os.cpu_count()} cores, {backend})"
