"""JSON Schemas for each model kind's metadata, checked when a file is loaded.

A file whose metadata is valid JSON of the wrong structure (a state entry without a
size, `extra` as a list) must be refused at load time with the reason, so that it
disables only its own command instead of raising deep inside a service.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from bot.contract.metadata import ModelMetadata

_NAME = {"type": "string", "minLength": 1, "maxLength": 200}
_POSITIVE = {"type": "integer", "minimum": 1}
_CHARACTERS = {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 8}}
_STATE = {
    "type": "array",
    "minItems": 1,
    "maxItems": 64,
    "items": {
        "type": "object",
        "required": ["input", "output", "size"],
        "properties": {"input": _NAME, "output": _NAME, "size": _POSITIVE},
    },
}
_COMMON = {
    "vocabulary": {"type": "array", "items": {"type": "string"}},
    "max_length": {"type": "integer", "minimum": 0},
    "metrics": {"type": "object"},
    "data_sources": {"type": "array", "items": {"type": "object"}},
    "training_command": {"type": "string"},
    "trained_at": {"type": "string"},
    "format_version": {"type": "integer"},
}


def _kind(required: list[str], properties: dict[str, Any], extra: dict[str, Any]) -> dict:
    return {
        "type": "object",
        "required": ["kind", "extra", *required],
        "properties": {**_COMMON, **properties, "extra": extra},
    }


_COLOR = _kind(
    ["vocabulary", "max_length"],
    {"vocabulary": _CHARACTERS, "max_length": {"type": "integer", "minimum": 1, "maximum": 512}},
    {
        "type": "object",
        "properties": {
            "padding": {"enum": ["left", "right"]},
            "known_colors": {
                "type": "object",
                "additionalProperties": {"type": "string", "pattern": "^#?[0-9a-fA-F]{6}$"},
            },
            "bins": {
                "type": "array",
                "minItems": 2,
                "items": {"type": "string", "pattern": "^#?[0-9a-fA-F]{6}$"},
            },
        },
    },
)

_CHARLM_EXTRA = {
    "type": "object",
    "required": ["state"],
    "properties": {
        "task": {"type": "string"},
        "state": _STATE,
        "contexts": {
            "type": "array",
            "items": {"type": "object", "required": ["input"], "properties": {"input": _NAME}},
        },
    },
    "allOf": [
        {
            "if": {"properties": {"task": {"const": "write"}}, "required": ["task"]},
            "then": {
                "required": ["style"],
                "properties": {"style": _NAME, "start_token": {"type": "string", "minLength": 1}},
            },
        },
        {
            "if": {"properties": {"task": {"const": "caption"}}, "required": ["task"]},
            "then": {
                "required": ["start_token", "end_token"],
                "properties": {
                    "start_token": {"type": "string", "minLength": 1, "maxLength": 1},
                    "end_token": {"type": "string", "minLength": 1, "maxLength": 1},
                },
            },
        },
        {
            "if": {"properties": {"task": {"const": "paint"}}, "required": ["task"]},
            "then": {
                "required": ["size", "start_token", "palette"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 1024},
                    "start_token": {"type": "integer", "minimum": 0},
                    "thumbnail": {"type": "integer", "minimum": 1},
                    "palette": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "array",
                            "minItems": 3,
                            "maxItems": 3,
                            "items": {"type": "integer", "minimum": 0, "maximum": 255},
                        },
                    },
                },
            },
        },
    ],
}

_CHARLM = _kind(["vocabulary"], {"vocabulary": _CHARACTERS}, _CHARLM_EXTRA)

_CAPTION_ENCODER = _kind(
    [],
    {},
    {
        "type": "object",
        "required": ["image_size", "decoder", "state"],
        "properties": {
            "image_size": {"type": "integer", "minimum": 8, "maximum": 1024},
            "decoder": _NAME,
            "condition": {"enum": ["state", "step", "concepts"]},
            "features": {"enum": ["pooled", "classes"]},
            "state": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["output", "size", "decoder_input"],
                    "properties": {"output": _NAME, "size": _POSITIVE, "decoder_input": _NAME},
                },
            },
        },
    },
)

SCHEMAS = {"color": _COLOR, "charlm": _CHARLM, "caption_encoder": _CAPTION_ENCODER}
_VALIDATORS = {kind: Draft202012Validator(schema) for kind, schema in SCHEMAS.items()}


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def validate_metadata(meta: ModelMetadata) -> None:
    """Raise ValueError naming the first field that does not fit the kind's schema."""
    validator = _VALIDATORS.get(meta.kind) if isinstance(meta.kind, str) else None
    if validator is None:
        raise ValueError(f"unknown model kind {meta.kind!r}")
    document = {name: getattr(meta, name) for name in meta.__dataclass_fields__}
    error = next(iter(sorted(validator.iter_errors(document), key=lambda e: list(e.path))), None)
    if error is not None:
        raise ValueError(f"metadata field {_where(error.absolute_path)}: {error.message[:200]}")
    _check_consistency(meta)


def _check_consistency(meta: ModelMetadata) -> None:
    """What a schema cannot say: references into the vocabulary."""
    extra, vocabulary = meta.extra, meta.vocabulary
    if meta.kind != "charlm":
        return
    task = extra.get("task")
    if task == "paint" and not extra["start_token"] < len(vocabulary):
        raise ValueError("metadata field extra.start_token is outside the vocabulary")
    if task == "paint" and extra["size"] % extra.get("thumbnail", 1):
        raise ValueError("metadata field extra.thumbnail does not divide extra.size")
    if task == "caption":
        for key in ("start_token", "end_token"):
            if extra[key] not in vocabulary:
                raise ValueError(f"metadata field extra.{key} is not in the vocabulary")
