"""Where styles trained from Discord live, and who may see them.

A style a server trains is its own: its file is `trained/<server id>/<style>.onnx` in the
model directory, apart from the shipped models at the top, and its model name in the
engine is `<server id>/<style>`. A name a server chooses can therefore never replace a
shipped model or another server's style. Until it is published, only its own server
sees it; `StyleScope` says which trained models one request may use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TRAINED_DIR = "trained"


def model_name(guild_id: int, style: str) -> str:
    """The engine's name for a style trained in `guild_id`."""
    return f"{guild_id}/{style}"


def model_path(model_dir: Path, guild_id: int, style: str) -> Path:
    return Path(model_dir) / TRAINED_DIR / str(guild_id) / f"{style}.onnx"


def owner(name: str) -> int | None:
    """The server that trained the model called `name`; None for a shipped model."""
    guild, slash, _ = name.partition("/")
    return int(guild) if slash and guild.isascii() and guild.isdigit() else None


@dataclass(frozen=True)
class StyleScope:
    """The trained models one request may use: its own server's and the published ones
    (model names). The default scope sees the shipped models only."""

    guild_id: int | None = None
    published: frozenset[str] = frozenset()

    def sees(self, name: str) -> bool:
        trainer = owner(name)
        if trainer is None:
            return True
        return trainer == self.guild_id or name in self.published

    def rank(self, name: str) -> int:
        """Which of two models with the same style name wins: shipped, then this server's
        own, then published ones."""
        trainer = owner(name)
        if trainer is None:
            return 0
        return 1 if trainer == self.guild_id else 2


SHIPPED = StyleScope()  # what scripts and the console see: the shipped styles only
