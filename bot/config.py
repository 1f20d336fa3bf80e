"""Settings from the environment (and CLI flags), resolved once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "exported_models"


def default_threads() -> int:
    """One core is left to the event loop."""
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class Settings:
    model_dir: Path = DEFAULT_MODEL_DIR
    output_dir: Path = Path("out")
    prefer_gpu: bool = True
    max_batch: int = 32  # generations one model steps together (and admits at once)
    max_waiting: int = 32  # the waiting line per model beyond those
    job_seconds: float = 840.0  # a job's deadline; Discord's token lives 15 minutes
    # onnxruntime's intra-op threads: one core is left to the event loop, and they do not
    # spin, so acknowledgements keep within Discord's 3 s under a burst (bench/ack_burst.py)
    threads: int = field(default_factory=default_threads)
    spin: bool = False
    shard_count: int | None = None  # None: as many as Discord recommends (/gateway/bot)
    shard_ids: list[int] | None = None  # this process's shards, when several share the bot
    settings_db: Path = Path("state/settings.sqlite3")  # per-server settings (SQLite)
    metrics_port: int | None = None  # /metrics, /healthz, /readyz on this port (None: off)
    metrics_host: str = "127.0.0.1"  # the address it listens on; unauthenticated, so loopback
    serve_address: str | None = None  # a Ray cluster whose Serve app steps the models
    history_days: int = 30  # how long /history keeps each member's generations

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            model_dir=Path(os.environ.get("RNNBOT_MODEL_DIR", DEFAULT_MODEL_DIR)),
            output_dir=Path(os.environ.get("RNNBOT_OUTPUT_DIR", "out")),
            prefer_gpu=os.environ.get("RNNBOT_CPU_ONLY", "") in ("", "0"),
            max_batch=_positive_int("RNNBOT_MAX_BATCH", 32),
            max_waiting=_positive_int("RNNBOT_MAX_WAITING", 32, minimum=0),
            job_seconds=float(_positive_int("RNNBOT_JOB_SECONDS", 840)),
            threads=_positive_int("RNNBOT_ORT_THREADS", default_threads()),
            spin=os.environ.get("RNNBOT_ORT_SPIN", "0") != "0",
            shard_count=_optional_positive_int("RNNBOT_SHARD_COUNT"),
            shard_ids=_shard_ids(),
            settings_db=Path(os.environ.get("RNNBOT_SETTINGS_DB", "state/settings.sqlite3")),
            metrics_port=_optional_port("RNNBOT_METRICS_PORT"),
            metrics_host=os.environ.get("RNNBOT_METRICS_HOST", "").strip() or "127.0.0.1",
            serve_address=os.environ.get("RNNBOT_SERVE_ADDRESS", "").strip() or None,
            history_days=_positive_int("RNNBOT_HISTORY_DAYS", 30),
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


def _optional_port(variable: str) -> int | None:
    """None when unset; 0 picks a free port (tests)."""
    if not os.environ.get(variable, "").strip():
        return None
    port = _positive_int(variable, 0, minimum=0)
    if port > 65535:
        raise SystemExit(f"{variable} must be a port number (0 to 65535)")
    return port


def _optional_positive_int(variable: str) -> int | None:
    """None when unset: the value is then decided elsewhere (by Discord, for shards)."""
    if not os.environ.get(variable, "").strip():
        return None
    return _positive_int(variable, 1)


def _shard_ids() -> list[int] | None:
    """RNNBOT_SHARD_IDS ("0,1"): the shards this process runs when several processes share
    the bot; each must be below RNNBOT_SHARD_COUNT, which is then required (every process
    must agree on the count for Discord to route each guild to one of them)."""
    raw = os.environ.get("RNNBOT_SHARD_IDS", "").strip()
    if not raw:
        return None
    count = _optional_positive_int("RNNBOT_SHARD_COUNT")
    if count is None:
        raise SystemExit("RNNBOT_SHARD_IDS needs RNNBOT_SHARD_COUNT, the total number of shards")
    try:
        ids = [int(part) for part in raw.split(",")]
    except ValueError:
        raise SystemExit(
            f"RNNBOT_SHARD_IDS must be whole numbers separated by commas, not {raw!r}"
        ) from None
    if any(not 0 <= shard < count for shard in ids):
        raise SystemExit(f"RNNBOT_SHARD_IDS must each be from 0 to {count - 1}, below the count")
    if len(set(ids)) != len(ids):
        raise SystemExit(f"RNNBOT_SHARD_IDS lists a shard twice: {raw!r}")
    return ids


def cooldown_override(command: str) -> str | None:
    """RNNBOT_COOLDOWN_<COMMAND> ("uses/seconds"), or None when unset. Read when the
    command runs, so a test or an operator can change it without a restart."""
    return os.environ.get(f"RNNBOT_COOLDOWN_{command.upper()}", "").strip() or None


@dataclass(frozen=True)
class TrainLimits:
    """What one `/train` job may take: RNNBOT_TRAIN_MAX_BYTES, _MIN_CHARS, _SECONDS (a
    reply can be edited for 15 minutes only), _EPOCHS, _PROGRESS (seconds between
    progress edits) and _TEXTS (where kept texts go; default `texts/` in the model
    folder). Read when a job starts."""

    max_bytes: int = 1_000_000
    min_chars: int = 5000
    seconds: float = 780.0
    epochs: int = 20
    progress: float = 60.0
    texts: Path | None = None

    @classmethod
    def from_env(cls) -> TrainLimits:
        def number(name: str, default: float) -> float:
            return float(os.environ.get(f"RNNBOT_TRAIN_{name}", default))

        texts = os.environ.get("RNNBOT_TRAIN_TEXTS", "").strip()
        return cls(
            max_bytes=int(number("MAX_BYTES", cls.max_bytes)),
            min_chars=int(number("MIN_CHARS", cls.min_chars)),
            seconds=number("SECONDS", cls.seconds),
            epochs=int(number("EPOCHS", cls.epochs)),
            progress=number("PROGRESS", cls.progress),
            texts=Path(texts) if texts else None,
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
