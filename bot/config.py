"""Settings from the environment (and CLI flags), resolved once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "exported_models"


@dataclass
class Settings:
    model_dir: Path = DEFAULT_MODEL_DIR
    output_dir: Path = Path("out")
    prefer_gpu: bool = True
    max_batch: int = 32  # generations one model steps together (and admits at once)
    max_waiting: int = 32  # the waiting line per model beyond those
    job_seconds: float = 840.0  # a job's deadline; Discord's token lives 15 minutes
    spin: bool = True  # onnxruntime's spinning intra-op threads (see bench/serving.py)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            model_dir=Path(os.environ.get("RNNBOT_MODEL_DIR", DEFAULT_MODEL_DIR)),
            output_dir=Path(os.environ.get("RNNBOT_OUTPUT_DIR", "out")),
            prefer_gpu=os.environ.get("RNNBOT_CPU_ONLY", "") in ("", "0"),
            max_batch=_positive_int("RNNBOT_MAX_BATCH", 32),
            max_waiting=_positive_int("RNNBOT_MAX_WAITING", 32, minimum=0),
            job_seconds=float(_positive_int("RNNBOT_JOB_SECONDS", 840)),
            spin=os.environ.get("RNNBOT_ORT_SPIN", "1") != "0",
        )


def _positive_int(variable: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{variable} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"{variable} must be at least {minimum}")
    return value


def read_token() -> str | None:
    """DISCORD_TOKEN, or the contents of the file named by DISCORD_TOKEN_FILE; never logged."""
    token = os.environ.get("DISCORD_TOKEN", "").strip()
    if token:
        return token
    path = os.environ.get("DISCORD_TOKEN_FILE", "").strip()
    if path:
        return Path(path).read_text(encoding="utf-8").strip() or None
    return None
