"""The HTTP API routes the bot calls, and the files and avatars it downloads.

Every request passes the checks all routes share before its route answers: the bot
token (webhook and interaction routes carry their own), injected faults, the rate-limit
bucket, then the body against Discord's schemas and limits (tests/discord_rules.py).
Each refusal is answered as Discord would and kept in `violations`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.discord_rules import (
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
from tests.local_discord.payloads import (
    APPLICATION_ID,
    BOT_USER_ID,
    TOKEN,
    application_payload,
    bot_message,
    snowflake,
    user_payload,
)
from tests.local_discord.records import Conversation, Posted, Violation


def _json(data: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    """Exactly `application/json` (no charset): discord.py compares the header verbatim."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


class RestRoutes:
    """The HTTP half of `LocalDiscord`, which holds the state it reads and writes:
    `conversations`, `messages`, `files`, `uploads`, `violations` and the rest."""

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
            return _json(application_payload())
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
        return bot_message(message_id, payload, attachments, flags)

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
