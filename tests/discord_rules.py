"""The rules real Discord enforces on the requests the bot makes, for the local stand-in.

Two sources: Discord's own OpenAPI 3.1 description (request-body schemas: lengths, item
counts, types) and Discord's public documentation for what a schema cannot say (the
interaction response window, single acknowledgement, token lifetime, the 6,000-character
embed total, upload size, rate limits). Every refusal is shaped as Discord shapes it:
`{"message": ..., "code": ...}` with Discord's status code, and `errors` naming the field
for an invalid form body, so discord.py raises exactly what it would in production.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URN = "urn:discord:openapi"
# Vendored: discord/discord-api-spec specs/openapi.json (MIT), see discord_openapi.SOURCE.md.
OPENAPI_PATH = Path(__file__).resolve().parent / "discord_openapi.json"

# Discord's documented limits that the OpenAPI schemas do not carry.
EMBED_TOTAL_CHARACTERS = 6000
ACTION_ROWS = 5
FILES_PER_MESSAGE = 10
UPLOAD_BYTES = 10 * 1024 * 1024
RESPONSE_WINDOW_S = 3.0
TOKEN_LIFETIME_S = 15 * 60
USER_INSTALL_FOLLOWUPS = 5
IS_COMPONENTS_V2 = 1 << 15

# Discord's JSON error codes (developer docs, "Opcodes and Status Codes").
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
REQUEST_TOO_LARGE = 40005
ALREADY_ACKNOWLEDGED = 40060
# "This interaction has hit the maximum number of follow up messages": Discord's JSON
# error code table (docs/topics/Opcodes_and_Status_Codes); the OpenAPI document has no
# error-code list. The limit itself is in docs/interactions/Receiving_and_Responding
# ("Followup Messages": 5 for a user-installed app not installed in the server).
MAX_FOLLOWUPS = 40094
INVALID_FORM_BODY = 50035
INVALID_WEBHOOK_TOKEN = 50027

_SCHEMA_CODES = {  # how Discord names a failed check in an invalid-form-body error
    "maxLength": "BASE_TYPE_MAX_LENGTH",
    "minLength": "BASE_TYPE_MIN_LENGTH",
    "maxItems": "BASE_TYPE_BAD_LENGTH",
    "minItems": "BASE_TYPE_BAD_LENGTH",
    "required": "BASE_TYPE_REQUIRED",
    "type": "BASE_TYPE_BAD_TYPE",
    "enum": "BASE_TYPE_CHOICES",
}


@dataclass(frozen=True)
class Refusal:
    """A request Discord would refuse: the answer to send and what to record."""

    status: int
    code: int
    message: str
    rule: str
    field: str = ""
    errors: dict | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    retry_after: float | None = None  # set on a 429, whose body has no `code`
    detail: str = ""  # the field-level reason, for an invalid form body

    def body(self) -> dict:
        if self.retry_after is not None:
            return {"message": self.message, "retry_after": self.retry_after, "global": False}
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


class Clock:
    """Monotonic seconds that tests can move forward, so the 3 s and 15 min rules are
    tested without waiting for them."""

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


# ---- the OpenAPI document ------------------------------------------------------------


def _openapi_path() -> Path:
    """`DISCORD_OPENAPI` (to try another version of the spec), else the vendored copy."""
    path = Path(os.environ.get("DISCORD_OPENAPI") or OPENAPI_PATH)
    if not path.is_file():
        raise FileNotFoundError(f"Discord's OpenAPI document not found at {path}")
    return path


@functools.cache
def _document() -> dict:
    """The OpenAPI document, read once per process.

    One loosening: `SnowflakeType` also admits integers. The schema says string, but
    Discord's server parses integer snowflakes in requests, and discord.py sends its
    attachment ids (`{"id": 0, "filename": ...}`) as integers."""
    document = json.loads(_openapi_path().read_text(encoding="utf-8"))
    snowflake = document["components"]["schemas"]["SnowflakeType"]
    snowflake.update(type=["string", "integer"], minimum=0)
    return document


@functools.cache
def _registry() -> Registry:
    """The whole document as one resource, so its `#/components/schemas/...` refs
    resolve against it."""
    resource = Resource.from_contents(_document(), default_specification=DRAFT202012)
    return Registry().with_resource(DOCUMENT_URN, resource)


@functools.cache
def _templates() -> list[tuple[re.Pattern, str]]:
    """Every path template as a regex, most literal segments first, so
    `/messages/@original` wins over `/messages/{message_id}`."""
    compiled = []
    for template in _document()["paths"]:
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        literals = sum(1 for s in template.split("/") if s and not s.startswith("{"))
        compiled.append((literals, re.compile(f"^{pattern}$"), template))
    compiled.sort(key=lambda item: -item[0])
    return [(pattern, template) for _, pattern, template in compiled]


def route_template(path: str) -> str | None:
    """The OpenAPI path template a concrete path belongs to, or None."""
    return next((t for pattern, t in _templates() if pattern.match(path)), None)


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


@functools.cache
def _validator(method: str, template: str) -> Draft202012Validator | None:
    """The JSON-body validator for one route (cached), or None when it takes no body."""
    operation = _document()["paths"][template].get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    pointer = _pointer("paths", template, method.lower(), "requestBody", "content")
    ref = f"{DOCUMENT_URN}#/{pointer}/application~1json/schema"
    return Draft202012Validator({"$ref": ref}, registry=_registry())


def _wrong_kind(error: ValidationError) -> bool:
    """Whether the union branch this error came from is for another kind of object (its
    `type` discriminator failed), like a button checked as a select menu."""
    parent = error.parent
    if parent is None:
        return False
    branch = error.relative_schema_path[0]
    return any(
        sibling.relative_schema_path[0] == branch
        and list(sibling.relative_path) == ["type"]
        and sibling.validator in ("enum", "const")
        for sibling in parent.context or []
    )


def _relevance(error: ValidationError) -> tuple:
    """best_match's ranking, after putting branches of the right kind first; the
    schema path breaks ties so best_match always descends to one field."""
    return (_wrong_kind(error), *relevance(error), [str(step) for step in error.schema_path])


def _field_name(error: ValidationError) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        path.append(re.sub(r"^'(.*)' is a required property$", r"\1", error.message))
    return ".".join(path)


def _reason(error: ValidationError) -> str:
    """Discord's wording for length limits; jsonschema's (shortened) for the rest."""
    if error.validator in ("maxLength", "maxItems"):
        return f"Must be {error.validator_value} or fewer in length."
    if error.validator in ("minLength", "minItems"):
        return f"Must be {error.validator_value} or more in length."
    return error.message if len(error.message) <= 200 else error.message[:199] + "…"


def _form_errors(field_name: str, code: str, message: str) -> dict:
    """Discord's nested `errors` object: one key per path step, `_errors` at the leaf."""
    errors: dict = {"_errors": [{"code": code, "message": message}]}
    for step in reversed(field_name.split(".") if field_name else []):
        errors = {step: errors}
    return errors


def invalid_form_body(rule: str, field_name: str, code: str, message: str) -> Refusal:
    return Refusal(
        400,
        INVALID_FORM_BODY,
        "Invalid Form Body",
        rule,
        field_name,
        _form_errors(field_name, code, message),
        detail=message,
    )


def check_schema(method: str, path: str, body: Any) -> Refusal | None:
    """Validate a JSON body (or a multipart `payload_json`) against the route's schema.

    Callback and webhook bodies are `anyOf` unions; `best_match` descends into the
    branch that got deepest, so the error names the field (`data.content`), not the
    union."""
    template = route_template(path)
    validator = _validator(method, template) if template else None
    if validator is None:
        return None
    error = best_match(validator.iter_errors(body), key=_relevance)
    if error is None:
        return None
    name = _field_name(error)
    code = _SCHEMA_CODES.get(str(error.validator), "BASE_TYPE_INVALID")
    return invalid_form_body("schema", name, code, f"{name or 'body'}: {_reason(error)}")


# ---- documented rules beyond the schema ----------------------------------------------


def message_of(template: str, body: Any) -> dict | None:
    """The message part of a request body: the callback's `data`, or the body itself."""
    if not isinstance(body, dict):
        return None
    if template.endswith("/callback"):
        data = body.get("data")
        return data if isinstance(data, dict) else None
    return body


def _embed_characters(embed: dict) -> int:
    fields = embed.get("fields") or []
    texts = [embed.get("title"), embed.get("description")]
    texts += [(embed.get("footer") or {}).get("text"), (embed.get("author") or {}).get("name")]
    texts += [f.get(k) for f in fields if isinstance(f, dict) for k in ("name", "value")]
    return sum(len(t) for t in texts if isinstance(t, str))


def check_message(message: dict, prefix: str = "") -> Refusal | None:
    """Embed total and action-row count: documented, but absent from the schemas (which
    allow 40 top-level components, the limit for Components V2 messages only)."""
    embeds = [e for e in message.get("embeds") or [] if isinstance(e, dict)]
    total = sum(_embed_characters(e) for e in embeds)
    if total > EMBED_TOTAL_CHARACTERS:
        return invalid_form_body(
            "embed_total",
            f"{prefix}embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
            f"{prefix}embeds: Embed size exceeds maximum size of {EMBED_TOTAL_CHARACTERS}"
            f" ({total})",
        )
    components = message.get("components") or []
    v2 = (message.get("flags") or 0) & IS_COMPONENTS_V2
    if not v2 and len(components) > ACTION_ROWS:
        return invalid_form_body(
            "action_rows",
            f"{prefix}components",
            "BASE_TYPE_BAD_LENGTH",
            f"{prefix}components: Must be between 1 and {ACTION_ROWS} in length.",
        )
    custom_ids = [
        item.get("custom_id")
        for row in components
        if isinstance(row, dict)
        for item in row.get("components") or []
        if isinstance(item, dict) and item.get("custom_id")
    ]
    if len(custom_ids) != len(set(custom_ids)):
        return invalid_form_body(
            "duplicate_custom_id",
            f"{prefix}components",
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            f"{prefix}components: Component custom id cannot be duplicated",
        )
    return None


def check_files(files: dict[str, bytes]) -> Refusal | None:
    """Ten files per message, 10 MiB in all (the non-boosted limit for bots)."""
    size = sum(len(data) for data in files.values())
    if len(files) > FILES_PER_MESSAGE:
        return invalid_form_body(
            "file_count",
            "files",
            "BASE_TYPE_BAD_LENGTH",
            f"files: Must be {FILES_PER_MESSAGE} or fewer in length.",
        )
    if size > UPLOAD_BYTES:
        return Refusal(413, REQUEST_TOO_LARGE, "Request entity too large", "upload_size", "files")
    return None


def check_callback(dispatched_at: float, acknowledged: bool, now: float) -> Refusal | None:
    """One initial response, within 3 s of the interaction being sent."""
    if acknowledged:
        return Refusal(
            400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.", "acknowledged"
        )
    if now - dispatched_at > RESPONSE_WINDOW_S:
        return Refusal(404, UNKNOWN_INTERACTION, "Unknown interaction", "response_window")
    return None


def check_token(issued_at: float, now: float) -> Refusal | None:
    """Interaction tokens work for follow-ups and edits for 15 minutes."""
    if now - issued_at > TOKEN_LIFETIME_S:
        return Refusal(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token", "token_expired")
    return None


def unknown_webhook(rule: str) -> Refusal:
    return Refusal(404, UNKNOWN_WEBHOOK, "Unknown Webhook", rule)


def check_followups(sent: int, user_installed: bool) -> Refusal | None:
    """A user-installed app not installed in the server gets five follow-ups."""
    if user_installed and sent >= USER_INSTALL_FOLLOWUPS:
        return Refusal(
            400,
            MAX_FOLLOWUPS,
            "This interaction has hit the maximum number of follow up messages",
            "followup_limit",
        )
    return None


# ---- rate limits ---------------------------------------------------------------------


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass
class RateLimits:
    """Fixed-window buckets per route group and major parameter (webhook or interaction
    token, else the bot). The defaults are Discord's observed webhook bucket (5 per 2 s)
    and its global limit (50 per second) for bot-token routes."""

    clock: Clock
    token_routes: tuple[int, float] = (5, 2.0)
    bot_routes: tuple[int, float] = (50, 1.0)
    _windows: dict[tuple[str, str], _Window] = dataclasses.field(default_factory=dict)

    def hit(self, group: str, major: str, token_route: bool) -> tuple[dict, Refusal | None]:
        """Count one request: the rate-limit headers to send, and a 429 when over."""
        limit, per = self.token_routes if token_route else self.bot_routes
        now = self.clock.now()
        window = self._windows.get((group, major))
        if window is None or now >= window.started + per:
            window = self._windows[(group, major)] = _Window(now)
        window.count += 1
        reset_after = max(window.started + per - now, 0.001)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(limit - window.count, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{math.ceil(reset_after * 1000) / 1000:.3f}",
            "X-RateLimit-Bucket": f"{zlib.crc32(group.encode()):08x}",
        }
        if window.count <= limit:
            return headers, None
        retry_after = math.ceil(reset_after * 1000) / 1000
        refusal = Refusal(
            429,
            0,
            "You are being rate limited.",
            "rate_limit",
            retry_after=retry_after,
            headers={
                **headers,
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Scope": "user",
                "Via": "1.1 google",  # Discord's proxy; discord.py trusts a 429 only with it
            },
        )
        return headers, refusal
