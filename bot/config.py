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

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            model_dir=Path(os.environ.get("RNNBOT_MODEL_DIR", DEFAULT_MODEL_DIR)),
            output_dir=Path(os.environ.get("RNNBOT_OUTPUT_DIR", "out")),
            prefer_gpu=os.environ.get("RNNBOT_CPU_ONLY", "") in ("", "0"),
        )


def read_token() -> str | None:
    """DISCORD_TOKEN, or the contents of the file named by DISCORD_TOKEN_FILE; never logged."""
    token = os.environ.get("DISCORD_TOKEN", "").strip()
    if token:
        return token
    path = os.environ.get("DISCORD_TOKEN_FILE", "").strip()
    if path:
        return Path(path).read_text(encoding="utf-8").strip() or None
    return None
