"""The metadata contract between `training` (which writes ONNX files) and `bot` (which reads them).

Everything a front end needs to use a model travels inside the ONNX file as string
key/value pairs (`metadata_props`), so one file is one model and replacing the file
replaces everything about it at once. Values are JSON so that lists and dicts survive.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

FORMAT_VERSION = 1
PREFIX = "rnnbot."


@dataclass(frozen=True)
class TensorSpec:
    """Expected name, element type and shape of one graph input or output (None = dynamic)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...]


@dataclass
class ModelMetadata:
    kind: str
    vocabulary: list[str] = field(default_factory=list)
    max_length: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    data_sources: list[dict[str, Any]] = field(default_factory=list)
    training_command: str = ""
    trained_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_props(self) -> dict[str, str]:
        return {PREFIX + key: json.dumps(value) for key, value in asdict(self).items()}

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ModelMetadata:
        """Parse `metadata_props`; raises ValueError with the reason if they are not ours."""
        values: dict[str, Any] = {}
        for key, raw in props.items():
            if not key.startswith(PREFIX):
                continue
            try:
                values[key.removeprefix(PREFIX)] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"metadata field {key!r} is not valid JSON") from exc
        if "kind" not in values:
            raise ValueError("the file carries no rnnbot metadata (no 'kind')")
        version = values.get("format_version", 0)
        if version != FORMAT_VERSION:
            raise ValueError(f"metadata format {version} is not supported (want {FORMAT_VERSION})")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if k in known})
