"""The Gateway: one websocket per shard, speaking JSON with optional zlib-stream
compression. HELLO, IDENTIFY -> READY, heartbeats and their ACKs, RESUME -> RESUMED, and
the dispatches the user driver sends. Shards are enforced as Discord does: an IDENTIFY
with fewer shards than required is closed with 4011, an impossible shard with 4010, and
each guild's events go to the socket of the shard that owns it."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.local_discord.payloads import APPLICATION_ID, BOT_USER_ID, owning_shard, user_payload


@dataclass
class GatewaySession:
    """One gateway session; RESUME moves it, sequence and all, onto a new socket."""

    session_id: str
    ws: web.WebSocketResponse
    compressor: Any  # a zlib compressobj, or None without zlib-stream
    shard: tuple[int, int]  # [id, count] from IDENTIFY; (0, 1) when the bot sent none
    sequence: int = 0
    live: bool = False  # READY or RESUMED was sent on the current socket, still open


class Gateway:
    """The Gateway half of `LocalDiscord`, which holds the state it reads and writes:
    `sessions`, `gateway_sessions`, `ready`, the counters and the shard settings."""

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
