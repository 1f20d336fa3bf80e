"""A small local stand-in for the parts of Discord's HTTP API and Gateway the bot uses.

Written from Discord's public API documentation (API v10): `GET /users/@me`,
`GET /oauth2/applications/@me`, `GET /gateway/bot`, the application-command bulk
overwrite, interaction callbacks, follow-up webhooks (JSON or multipart with files),
editing and deleting the original response; and a Gateway websocket speaking JSON with
zlib-stream compression: HELLO, IDENTIFY -> READY, heartbeats and their ACKs, RESUME ->
RESUMED, and INTERACTION_CREATE dispatches. It can require sharding (`shards=2`): an
IDENTIFY with fewer shards is closed with 4011, and each interaction goes to the socket of
the shard that owns its guild.

Tests drive it like a person would (`await discord.run("color", name="forest")`) and read
back what the bot posted. Faults can be injected: drop the gateway connection, answer the
next HTTP requests with 429 or 5xx.

It is as strict as Discord (see tests/discord_rules.py): bodies are checked against
Discord's OpenAPI schemas and documented limits, interaction responses against the 3 s
window, single acknowledgement and 15-minute tokens, and every route carries rate-limit
headers and answers 429 past its bucket. Each refusal is also kept in `violations`, so a
test fails when the bot does something real Discord would refuse.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
from aiohttp import web

from tests.discord_rules import (
    Clock,
    RateLimits,
    Refusal,
    check_callback,
    check_files,
    check_followups,
    check_message,
    check_schema,
    check_token,
    message_of,
    route_template,
    unknown_webhook,
)

APPLICATION_ID = 900000000000000001
BOT_USER_ID = 900000000000000002
OWNER_ID = 900000000000000003
GUILD_ID = 900000000000000004
CHANNEL_ID = 900000000000000005
USER_ID = 900000000000000006
EPOCH_TIME = "2026-01-01T00:00:00.000000+00:00"

_ids = itertools.count()


def snowflake() -> str:
    """A Discord snowflake carrying the current time, as Discord's do (interaction ages
    are read from it)."""
    return str(discord.utils.time_snowflake(datetime.now(UTC)) + next(_ids) % 4096)


def _json(data: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    """Exactly `application/json` (no charset): discord.py compares the header verbatim."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def guild_on_shard(shard_id: int, shard_count: int) -> int:
    """A guild id (near GUILD_ID) that Discord routes to `shard_id` of `shard_count`."""
    base = (GUILD_ID >> 22) // shard_count * shard_count
    return (base + shard_id) << 22


def owning_shard(guild_id: int, shard_count: int) -> int:
    """Discord's formula for the shard that receives a guild's events (DMs go to 0)."""
    return (guild_id >> 22) % shard_count


def user_payload(user_id: int, name: str, bot: bool = False) -> dict:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }


@dataclass(frozen=True)
class Violation:
    """One request the stand-in refused, as real Discord would have."""

    route: str  # "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"
    rule: str  # "schema", "response_window", "rate_limit", ...
    field: str  # "data.content", "embeds.0.title"; empty when the rule is not a field's
    message: str

    def __str__(self) -> str:
        where = f" [{self.field}]" if self.field else ""
        return f"{self.route}: {self.rule}{where}: {self.message}"


@dataclass
class Posted:
    """One thing the bot sent: a callback, a follow-up, or an edit of the original."""

    kind: str  # "callback", "followup", "edit", "delete"
    interaction_token: str
    payload: dict
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)

    @property
    def ephemeral(self) -> bool:
        data = self.payload.get("data", self.payload) if self.kind == "callback" else self.payload
        return bool((data or {}).get("flags", 0) & 64)

    @property
    def text(self) -> str:
        """Everything a person reads in this post: content and embed text."""
        data = self.payload.get("data", {}) if self.kind == "callback" else self.payload
        data = data or {}
        parts = [data.get("content") or ""]
        for embed in data.get("embeds") or []:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
            parts.append((embed.get("footer") or {}).get("text") or "")
        return "\n".join(p for p in parts if p)


@dataclass
class Conversation:
    """Everything posted for one interaction, in order."""

    token: str
    interaction_id: str
    dispatched_at: float  # on the stand-in's clock; the token is issued at the same time
    user_installed: bool = False  # the app is installed for the user, not in the server
    kind: int = 2  # the interaction's type: 2 application command, 3 component
    source_message_id: str | None = None  # a component's message (its "original" response)
    message_ids: list[str] = field(default_factory=list)  # messages this interaction made
    store: dict[str, dict] = field(default_factory=dict, repr=False)  # every message by id
    posts: list[Posted] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    gone: bool = False  # the token no longer works (expired, or the message was deleted)

    @property
    def acknowledged(self) -> bool:
        return any(p.kind == "callback" for p in self.posts)

    @property
    def followups(self) -> int:
        return sum(p.kind == "followup" for p in self.posts)

    @property
    def callback(self) -> Posted:
        return next(p for p in self.posts if p.kind == "callback")

    async def wait_until(self, predicate, timeout: float = 30.0) -> None:
        async def poll() -> None:
            while not predicate(self):
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), timeout)

    @property
    def original_id(self) -> str | None:
        """What `@original` names: the response message, or a component's own message."""
        return self.message_ids[0] if self.message_ids else self.source_message_id

    @property
    def message(self) -> dict:
        """The newest message this interaction made (or changed), as Discord stores it."""
        ids = self.message_ids or [self.source_message_id]
        return self.store[ids[-1]]

    def buttons(self) -> list[dict]:
        """The buttons on `message`, in order."""
        return [
            item
            for row in self.message.get("components") or []
            for item in row.get("components") or []
            if item.get("type") == 2
        ]

    @property
    def final(self) -> Posted:
        """The last message content the user sees (edit or follow-up)."""
        return [p for p in self.posts if p.kind in ("edit", "followup", "callback")][-1]


@dataclass
class GatewaySession:
    """One gateway session; RESUME moves it, sequence and all, onto a new socket."""

    session_id: str
    ws: web.WebSocketResponse
    compressor: Any  # a zlib compressobj, or None without zlib-stream
    shard: tuple[int, int]  # [id, count] from IDENTIFY; (0, 1) when the bot sent none
    sequence: int = 0
    live: bool = False  # READY or RESUMED was sent on the current socket, still open


class LocalDiscord:
    def __init__(
        self,
        heartbeat_interval_ms: int = 500,
        *,
        clock: Clock | None = None,
        token_rate_limit: tuple[int, float] = (5, 2.0),
        bot_rate_limit: tuple[int, float] = (50, 1.0),
        shards: int = 1,
        expected_shards: list[int] | None = None,
        host: str = "127.0.0.1",
        public_host: str | None = None,
    ) -> None:
        """It listens on `host` and names itself `public_host` in the URLs it hands out
        (a container reaches the machine's stand-in by another name). `token_rate_limit`
        is (requests, seconds) per interaction token and route; `bot_rate_limit` the same
        for routes authorised with the bot token. `shards` is the count /gateway/bot
        recommends and the gateway requires; `ready` is set when the `expected_shards`
        (all by default) are connected: fewer when a test plays one of several processes
        that share the bot."""
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.host, self.public_host = host, public_host or host
        self.shards = shards
        self.expected_shards = set(range(shards) if expected_shards is None else expected_shards)
        self.clock = clock or Clock()
        self.rate_limits = RateLimits(self.clock, token_rate_limit, bot_rate_limit)
        self.violations: list[Violation] = []
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/api/v10/{path:.*}", self._http)
        self.app.router.add_get("/gateway", self._gateway)
        self.app.router.add_get("/uploads/{id}", self._upload)
        self.app.router.add_get("/attachments/{message}/{name}", self._attachment)
        self.app.router.add_get("/cdn/avatars/{user}/{file}", self._avatar)
        self.avatars: dict[str, bytes] = {}  # user id -> avatar image (served as the CDN)
        self.uploads: dict[str, bytes] = {}
        self.messages: dict[str, dict] = {}  # every message the bot posted, as last edited
        self.channel_posts: list[dict] = []  # what the bot posted on its own, in order
        self.missing_channels: set[str] = set()  # deleted: a post there gets 404
        self.forbidden_channels: set[str] = set()  # the bot may not post there: 403
        self.files: dict[tuple[str, str], bytes] = {}  # (message id, filename) -> bytes
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.conversations: dict[str, Conversation] = {}
        self.synced_commands: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.http_faults: list[tuple[int, dict]] = []  # (status, body) for the next requests
        self.identifies = 0
        self.resumes = 0
        self.heartbeats = 0
        self.identified_shards: list[list[int] | None] = []  # each IDENTIFY's `shard`
        self.close_codes: list[int] = []  # each gateway close this stand-in chose
        self.sessions: list[web.WebSocketResponse] = []  # the open gateway sockets
        self.gateway_sessions: dict[str, GatewaySession] = {}
        self.ready = asyncio.Event()

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for ws in list(self.sessions):
            await ws.close()
        if self.runner:
            await self.runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://{self.public_host}:{self.port}/api/v10"

    @property
    def cdn_base(self) -> str:
        return f"http://{self.public_host}:{self.port}/cdn"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.public_host}:{self.port}/gateway"

    # ---- HTTP API --------------------------------------------------------------------

    async def _http(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        self.requests.append((request.method, path))
        authorized = request.headers.get("Authorization", "") == f"Bot {TOKEN}"
        if not authorized and not path.startswith(("/webhooks/", "/interactions/")):
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        if self.http_faults:
            status, body = self.http_faults.pop(0)
            headers = (  # Discord's 429s come through its proxy, which discord.py checks
                {"Retry-After": str(body.get("retry_after", 0)), "Via": "1.1 google"}
                if status == 429
                else {}
            )
            return _json(body, status=status, headers=headers)
        method = request.method
        route = f"{method} {route_template(path) or path}"
        parts = path.strip("/").split("/")
        token_route = parts[0] in ("webhooks", "interactions") and len(parts) >= 3
        major = parts[2] if token_route else "bot"  # the bucket's major parameter
        limits, refusal = self.rate_limits.hit(route, major, token_route)
        if refusal is None:
            payload, files = await self._read_body(request)
            refusal = self._check_body(method, path, payload, files)
        if refusal is not None:
            return self._refuse(route, refusal)
        response = self._route(method, path, parts, payload, files)
        response.headers.update(limits)
        return response

    def _route(
        self, method: str, path: str, parts: list[str], payload: Any, files: dict[str, bytes]
    ) -> web.Response:
        """Answer a request that passed the checks every route shares."""
        if (method, path) == ("GET", "/users/@me"):
            return _json(user_payload(BOT_USER_ID, "rnnbot", bot=True))
        if (method, path) == ("GET", "/oauth2/applications/@me"):
            return _json(self._application())
        if (method, path) == ("GET", "/gateway/bot"):
            return _json(
                {
                    "url": self.gateway_url,
                    "shards": self.shards,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 999,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if method == "PUT" and parts[0] == "applications" and parts[-1] == "commands":
            self.synced_commands = payload
            return _json(
                [
                    {
                        **c,
                        "id": snowflake(),
                        "application_id": str(APPLICATION_ID),
                        "version": "1",
                        "default_member_permissions": c.get("default_member_permissions"),
                        "description": c.get("description", ""),  # "" for context menus
                    }
                    for c in payload
                ]
            )
        if method == "POST" and parts[0] == "interactions" and parts[-1] == "callback":
            return self._callback(parts[1], parts[2], payload, files)
        if parts[0] == "webhooks" and len(parts) >= 3:
            return self._webhook(method, parts[1:], payload, files)
        if method == "POST" and parts[0] == "channels" and parts[2:] == ["messages"]:
            return self._channel_message(parts[1], payload, files)
        return _json(
            {"message": f"not in the local stand-in: {method} {path}", "code": 0}, status=404
        )

    def _check_body(
        self, method: str, path: str, payload: Any, files: dict[str, bytes]
    ) -> Refusal | None:
        """Upload limits, the route's OpenAPI schema, then the documented message limits."""
        refusal = check_files(files) or check_schema(method, path, payload)
        template = route_template(path)
        message = message_of(template, payload) if template else None
        if refusal is None and message is not None:
            prefix = "data." if template.endswith("/callback") else ""
            refusal = check_message(message, prefix)
        return refusal

    def _refuse(self, route: str, refusal: Refusal) -> web.Response:
        """Record the refusal and answer it as Discord would."""
        message = f"{refusal.message}: {refusal.detail}" if refusal.detail else refusal.message
        self.violations.append(Violation(route, refusal.rule, refusal.field, message))
        return _json(refusal.body(), status=refusal.status, headers=refusal.headers)

    async def _read_body(self, request: web.Request) -> tuple[Any, dict[str, bytes]]:
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            payload: Any = {}
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()
                if part.name == "payload_json":
                    payload = json.loads(data)
                else:
                    files[part.filename or part.name] = bytes(data)
            return payload, files
        if request.can_read_body:
            return await request.json(), files
        return {}, files

    def _application(self) -> dict:
        return {
            "id": str(APPLICATION_ID),
            "name": "rnnbot",
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": user_payload(OWNER_ID, "owner"),
            "summary": "",
            "verify_key": "0" * 64,
            "team": None,
            "flags": 0,
            "interactions_endpoint_url": None,
        }

    def _attachments(self, message_id: str, files: dict[str, bytes]) -> list[dict]:
        """Posted files as the message's attachments, downloadable from this stand-in."""
        attachments = []
        for name, data in files.items():
            self.files[(message_id, name)] = data
            url = f"http://{self.public_host}:{self.port}/attachments/{message_id}/{name}"
            attachments.append(
                {
                    "id": snowflake(),
                    "filename": name,
                    "size": len(data),
                    "url": url,
                    "proxy_url": url,
                }
            )
        return attachments

    def _store(self, payload: dict, files: dict[str, bytes], ephemeral: bool = False) -> dict:
        """A new message from a response or follow-up, kept so buttons can be pressed."""
        message = self._message(payload, files, ephemeral)
        self.messages[message["id"]] = message
        return message

    def _edit(self, message_id: str | None, payload: dict, files: dict[str, bytes]) -> dict:
        """Apply an edit as Discord does: given fields replace, absent fields stay; new
        files replace the attachments unless the edit lists ones to keep."""
        message = self.messages.get(message_id or "")
        if message is None:
            return self._message(payload, files)
        for key in ("content", "embeds", "components", "flags"):
            if key in payload:
                message[key] = payload[key] if payload[key] is not None else message[key]
        if files or "attachments" in payload:
            kept_ids = {str(a.get("id")) for a in payload.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in kept_ids]
            message["attachments"] = kept + self._attachments(message_id, files)
        return message

    def _message(self, payload: dict, files: dict[str, bytes], ephemeral: bool = False) -> dict:
        message_id = snowflake()
        attachments = self._attachments(message_id, files)
        flags = payload.get("flags", 0) | (64 if ephemeral else 0)
        return {
            "id": message_id,
            "channel_id": str(CHANNEL_ID),
            "type": 0,
            "author": user_payload(BOT_USER_ID, "rnnbot", bot=True),
            "content": payload.get("content") or "",
            "timestamp": EPOCH_TIME,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": payload.get("embeds", []),
            "components": payload.get("components", []),
            "pinned": False,
            "flags": flags,
            "webhook_id": str(APPLICATION_ID),
            "application_id": str(APPLICATION_ID),
        }

    def _callback(
        self, interaction_id: str, token: str, payload: dict, files: dict[str, bytes]
    ) -> web.Response:
        route = "POST /interactions/{interaction_id}/{interaction_token}/callback"
        conversation = self.conversations.get(token)
        if conversation is None or conversation.interaction_id != interaction_id:
            refusal = Refusal(404, 10062, "Unknown interaction", "unknown_interaction")
            return self._refuse(route, refusal)
        now = self.clock.now()
        refusal = check_callback(conversation.dispatched_at, conversation.acknowledged, now)
        if refusal is not None:
            return self._refuse(route, refusal)
        conversation.posts.append(Posted("callback", token, payload, files, at=now))
        data = payload.get("data") or {}
        ephemeral = bool(data.get("flags", 0) & 64)
        kind = payload.get("type")
        if kind in (4, 5):  # a new message (or its "thinking" placeholder)
            message = self._store(data if kind == 4 else {"flags": data.get("flags", 0)}, files)
            conversation.message_ids.append(message["id"])
        elif kind == 7:  # a component's message, updated in place
            self._edit(conversation.source_message_id, data, files)
        if kind in (4, 7):  # the answer itself
            conversation.done.set()
        return _json(
            {
                "interaction": {
                    "id": interaction_id,
                    "type": conversation.kind,
                    "response_message_id": conversation.original_id or snowflake(),
                    "response_message_loading": payload.get("type") == 5,
                    "response_message_ephemeral": ephemeral,
                },
                "resource": {"type": payload.get("type", 4)},
            }
        )

    def _channel_message(
        self, channel_id: str, payload: dict, files: dict[str, bytes]
    ) -> web.Response:
        """A message the bot posts on its own (no interaction), refused as Discord does
        when the channel is gone or the bot lost the right to post there. Those answers
        are the channel's state, not the bot breaking a rule: no violation is recorded."""
        if channel_id in self.missing_channels:
            return _json({"message": "Unknown Channel", "code": 10003}, status=404)
        if channel_id in self.forbidden_channels:
            return _json({"message": "Missing Permissions", "code": 50013}, status=403)
        message = self._store(payload, files)
        message.update(channel_id=channel_id, webhook_id=None, application_id=None)
        self.channel_posts.append(message)
        return _json(message)

    def _webhook_refusal(
        self, method: str, webhook_id: str, conversation: Conversation | None, rest: list[str]
    ) -> Refusal | None:
        """Only tokens this stand-in issued, for this application, still alive; and the
        follow-up cap of a user-installed app."""
        if conversation is None or webhook_id != str(APPLICATION_ID):
            return unknown_webhook("unknown_token")
        if conversation.gone:
            return unknown_webhook("gone")
        refusal = check_token(conversation.dispatched_at, self.clock.now())
        if refusal is None and method == "POST" and not rest:
            refusal = check_followups(conversation.followups, conversation.user_installed)
        return refusal

    def _webhook(
        self, method: str, parts: list[str], payload: dict, files: dict[str, bytes]
    ) -> web.Response:
        webhook_id, token, rest = parts[0], parts[1], parts[2:]
        conversation = self.conversations.get(token)
        refusal = self._webhook_refusal(method, webhook_id, conversation, rest)
        if refusal is not None:
            route = f"{method} {route_template('/webhooks/' + '/'.join(parts))}"
            return self._refuse(route, refusal)
        now = self.clock.now()
        if method == "POST" and not rest:
            conversation.posts.append(Posted("followup", token, payload, files, at=now))
            conversation.done.set()
            ephemeral = bool(payload.get("flags", 0) & 64)
            message = self._store(payload, files, ephemeral)
            conversation.message_ids.append(message["id"])
            return _json(message)
        if rest and rest[0] == "messages":
            message_id = conversation.original_id if rest[1:] == ["@original"] else rest[1]
            if method == "PATCH":
                conversation.posts.append(Posted("edit", token, payload, files, at=now))
                return _json(self._edit(message_id, payload, files))
            if method == "DELETE":
                conversation.posts.append(Posted("delete", token, payload, files, at=now))
                self.messages.pop(message_id or "", None)
                return web.Response(status=204)
            if method == "GET":
                return _json(self.messages.get(message_id or "") or self._message({}, {}))
        return _json({"message": "unknown webhook route", "code": 0}, status=404)

    async def _attachment(self, request: web.Request) -> web.Response:
        data = self.files.get((request.match_info["message"], request.match_info["name"]))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _avatar(self, request: web.Request) -> web.Response:
        data = self.avatars.get(request.match_info["user"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="image/png")

    async def _upload(self, request: web.Request) -> web.Response:
        data = self.uploads.get(request.match_info["id"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # ---- Gateway ---------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress") == "zlib-stream"
        compressor = zlib.compressobj() if compress else None
        self.sessions.append(ws)
        await self._send(
            ws, compressor, {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
        )
        session: GatewaySession | None = None
        async for message in ws:
            if message.type.name == "TEXT":
                session = await self._gateway_op(ws, compressor, session, json.loads(message.data))
        if ws in self.sessions:
            self.sessions.remove(ws)
        if session is not None and session.ws is ws:  # not moved away by a RESUME
            session.live = False
            self._update_ready()
        return ws

    async def _gateway_op(
        self, ws: web.WebSocketResponse, compressor, session: GatewaySession | None, data: dict
    ) -> GatewaySession | None:
        """Answer one message from the bot; returns the socket's session from then on."""
        op = data["op"]
        if op == 1:
            self.heartbeats += 1
            await self._send(ws, compressor, {"op": 11})
        elif op == 2:
            return await self._identify(ws, compressor, data["d"])
        elif op == 6:
            return await self._resume(ws, compressor, data["d"])
        return session

    async def _identify(
        self, ws: web.WebSocketResponse, compressor, data: dict
    ) -> GatewaySession | None:
        shard = data.get("shard")
        self.identified_shards.append(shard)
        refusal = self._shard_refusal(shard)
        if refusal is not None:
            await self._close(ws, *refusal)
            return None
        self.identifies += 1
        session = GatewaySession(
            f"session-{self.identifies}", ws, compressor, tuple(shard) if shard else (0, 1)
        )
        self.gateway_sessions[session.session_id] = session
        await self._dispatch(
            session,
            "READY",
            {
                "v": 10,
                "user": user_payload(BOT_USER_ID, "rnnbot", bot=True),
                "guilds": [],
                "session_id": session.session_id,
                "resume_gateway_url": self.gateway_url,
                "shard": list(session.shard),
                "application": {"id": str(APPLICATION_ID), "flags": 0},
            },
        )
        session.live = True
        self._update_ready()
        return session

    def _shard_refusal(self, shard: list[int] | None) -> tuple[int, str] | None:
        """Discord's close code and reason for an IDENTIFY's `shard`, if it is refused."""
        if shard is None:
            return (4011, "Sharding required") if self.shards > 1 else None
        shard_id, count = shard
        if not 0 <= shard_id < count:
            return 4010, "Invalid shard"
        if count < self.shards:
            return 4011, "Sharding required"
        return None

    async def _resume(
        self, ws: web.WebSocketResponse, compressor, data: dict
    ) -> GatewaySession | None:
        session = self.gateway_sessions.get(data.get("session_id", ""))
        if session is None:  # Invalid Session, not resumable: the bot identifies again
            await self._send(ws, compressor, {"op": 9, "d": False})
            return None
        self.resumes += 1
        session.ws, session.compressor = ws, compressor
        await self._dispatch(session, "RESUMED", {})
        session.live = True
        self._update_ready()
        return session

    def _update_ready(self) -> None:
        live = {session.shard[0] for session in self.gateway_sessions.values() if session.live}
        if self.expected_shards <= live:
            self.ready.set()
        else:
            self.ready.clear()

    async def _close(self, ws: web.WebSocketResponse, code: int, reason: str) -> None:
        self.close_codes.append(code)
        await ws.close(code=code, message=reason.encode())

    async def _send(self, ws, compressor, payload: dict) -> None:
        text = json.dumps(payload)
        if compressor is None:
            await ws.send_str(text)
        else:
            await ws.send_bytes(
                compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
            )

    async def _dispatch(self, session: GatewaySession, event: str, data: dict) -> None:
        session.sequence += 1
        payload = {"op": 0, "t": event, "s": session.sequence, "d": data}
        await self._send(session.ws, session.compressor, payload)

    def _live_session(self, guild_id: int) -> GatewaySession:
        """The connected session of the shard that owns `guild_id` (0: DMs)."""
        for session in self.gateway_sessions.values():
            shard_id, count = session.shard
            if session.live and owning_shard(guild_id, count) == shard_id:
                return session
        raise LookupError(f"no connected shard receives the events of guild {guild_id}")

    async def drop_connection(self, shard_id: int = 0) -> None:
        """Close a shard's gateway socket abruptly, as a network failure would (code 4000)."""
        session = next(
            s for s in self.gateway_sessions.values() if s.live and s.shard[0] == shard_id
        )
        session.live = False
        self._update_ready()
        await self._close(session.ws, 4000, "dropped by test")

    # ---- acting as a user ------------------------------------------------------------

    async def run(
        self,
        command: str,
        /,
        *,
        user_id: int = USER_ID,
        permissions: int = 0,
        attachments: dict[str, tuple[bytes, str]] | None = None,
        user_installed: bool = False,
        guild_id: int = GUILD_ID,
        timeout: float = 30.0,
        wait: bool = True,
        **options: Any,
    ) -> Conversation:
        """Dispatch an INTERACTION_CREATE for `/command options...`; wait for the answer.

        `user_installed` sends it as from an app the user installed, used in a private
        channel where the app is not installed (Discord then caps follow-ups at five).
        It arrives on the socket of the shard that owns `guild_id` (DMs: shard 0)."""
        data = self._command_data(command, options, attachments or {})
        return await self._interact(
            2, data, user_id, permissions, user_installed, guild_id, timeout, wait
        )

    async def press(
        self,
        conversation: Conversation,
        label: str,
        *,
        user_id: int = USER_ID,
        permissions: int = 0,
        timeout: float = 30.0,
        wait: bool = True,
    ) -> Conversation:
        """Press the button whose label (or emoji) is `label` on the newest message of
        `conversation`, as a user would: a component interaction (type 3) carrying the
        message as Discord stores it now."""
        message = conversation.message
        for button in conversation.buttons():
            emoji = (button.get("emoji") or {}).get("name")
            if label in (button.get("label"), emoji):
                break
        else:
            shown = [
                (b.get("emoji") or {}).get("name") or b.get("label") for b in conversation.buttons()
            ]
            raise LookupError(f"no button {label!r} on the message; it has {shown}")
        if button.get("disabled"):
            raise LookupError(f"the button {label!r} is disabled (Discord does not send it)")
        data = {"custom_id": button["custom_id"], "component_type": 2}
        return await self._interact(
            3,
            data,
            user_id,
            permissions,
            conversation.user_installed,
            GUILD_ID,
            timeout,
            wait,
            message=message,
        )

    async def run_menu(
        self,
        name: str,
        *,
        message: dict | None = None,
        user: dict | None = None,
        user_id: int = USER_ID,
        permissions: int = 0,
        user_installed: bool = False,
        timeout: float = 30.0,
        wait: bool = True,
    ) -> Conversation:
        """A right-click command: on a message (`message`, as `message_payload` makes it)
        or on a user (`user`, as `user_payload` makes it)."""
        kind, key, target = (3, "messages", message) if message is not None else (2, "users", user)
        data = {
            "id": snowflake(),
            "name": name,
            "type": kind,
            "target_id": target["id"],
            "resolved": {key: {target["id"]: target}},
        }
        return await self._interact(
            2, data, user_id, permissions, user_installed, GUILD_ID, timeout, wait
        )

    async def _interact(
        self,
        kind: int,
        data: dict,
        user_id: int,
        permissions: int,
        user_installed: bool,
        guild_id: int,
        timeout: float,
        wait: bool,
        message: dict | None = None,
    ) -> Conversation:
        """Dispatch one INTERACTION_CREATE on the owning shard's socket; wait for the answer."""
        await asyncio.wait_for(self.ready.wait(), timeout)
        session = self._live_session(0 if user_installed else guild_id)
        token = f"token-{snowflake()}"
        interaction = {
            "id": snowflake(),
            "application_id": str(APPLICATION_ID),
            "type": kind,
            "token": token,
            "version": 1,
            "data": data,
            "locale": "en-US",
            "app_permissions": str((1 << 53) - 1),
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            interaction["message"] = message
        user = user_payload(user_id, f"user{user_id % 1000}")
        if user_installed:
            interaction.update(_private_channel_context(user))
        else:
            interaction.update(_guild_context(user, permissions, guild_id))
        conversation = self.conversations[token] = Conversation(
            token,
            interaction["id"],
            self.clock.now(),
            user_installed,
            kind=kind,
            source_message_id=message["id"] if message else None,
            store=self.messages,
        )
        await self._dispatch(session, "INTERACTION_CREATE", interaction)
        if wait:
            await asyncio.wait_for(conversation.done.wait(), timeout)
        return conversation

    def message_payload(
        self,
        content: str = "",
        attachments: dict[str, tuple[bytes, str]] | None = None,
        author_id: int = USER_ID,
    ) -> dict:
        """A message someone posted in the channel (for right-click commands on it)."""
        message_id = snowflake()
        files = []
        for name, (content_bytes, content_type) in (attachments or {}).items():
            attachment_id = snowflake()
            self.uploads[attachment_id] = content_bytes
            url = f"http://{self.public_host}:{self.port}/uploads/{attachment_id}"
            files.append(
                {
                    "id": attachment_id,
                    "filename": name,
                    "size": len(content_bytes),
                    "content_type": content_type,
                    "url": url,
                    "proxy_url": url,
                }
            )
        message = self._message({"content": content}, {})
        message.update(
            id=message_id,
            author=user_payload(author_id, f"user{author_id % 1000}"),
            attachments=files,
            webhook_id=None,
            application_id=None,
        )
        self.messages[message_id] = message
        return message

    def _command_data(
        self, command: str, options: dict[str, Any], attachments: dict[str, tuple[bytes, str]]
    ) -> dict:
        """The slash command's `data`: typed options, and uploaded files as resolved
        attachments the bot downloads from this stand-in."""
        kinds = {str: 3, int: 4, bool: 5, float: 10}
        data_options, resolved = [], {}
        for name, value in options.items():
            data_options.append({"name": name, "type": kinds[type(value)], "value": value})
        for name, (content, content_type) in attachments.items():
            attachment_id = snowflake()
            self.uploads[attachment_id] = content
            data_options.append({"name": name, "type": 11, "value": attachment_id})
            resolved.setdefault("attachments", {})[attachment_id] = {
                "id": attachment_id,
                "filename": f"{name}.bin",
                "size": len(content),
                "content_type": content_type,
                "url": f"http://{self.public_host}:{self.port}/uploads/{attachment_id}",
                "proxy_url": f"http://{self.public_host}:{self.port}/uploads/{attachment_id}",
            }
        group, *path = command.split(" ")
        if path:  # a subcommand, perhaps in a subgroup: its options sit inside it
            data_options = [{"name": path[-1], "type": 1, "options": data_options}]
        if len(path) == 2:
            data_options = [{"name": path[0], "type": 2, "options": data_options}]
        data = {"id": snowflake(), "name": group, "type": 1, "options": data_options}
        if resolved:
            data["resolved"] = resolved
        return data


def _guild_context(user: dict, permissions: int, guild_id: int) -> dict:
    """Used in a server channel where the app is installed (context 0, GUILD)."""
    return {
        "guild_id": str(guild_id),
        "channel_id": str(CHANNEL_ID),
        "channel": {
            "id": str(CHANNEL_ID),
            "type": 0,
            "guild_id": str(guild_id),
            "name": "general",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "flags": 0,
        },
        "member": {
            "user": user,
            "roles": [],
            "joined_at": EPOCH_TIME,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": str(permissions),
        },
        "guild_locale": "en-US",
        "authorizing_integration_owners": {"0": str(guild_id)},
        "context": 0,
    }


def _private_channel_context(user: dict) -> dict:
    """Used in a DM between users, through the user's own install of the app: only the
    USER_INSTALL key ("1") authorises it (context 2, PRIVATE_CHANNEL)."""
    return {
        "channel_id": str(CHANNEL_ID),
        "channel": {"id": str(CHANNEL_ID), "type": 1, "recipients": [user], "flags": 0},
        "user": user,
        "authorizing_integration_owners": {"1": user["id"]},
        "context": 2,
    }


TOKEN = "local-test-token.Zm9vYmFy.c2VjcmV0LXRva2VuLXZhbHVl"
