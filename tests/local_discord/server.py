"""The stand-in as one server: the state its three parts share, and starting and stopping
it on a free local port."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.discord_rules import Clock, RateLimits
from tests.local_discord.driver import UserDriver
from tests.local_discord.gateway import Gateway, GatewaySession
from tests.local_discord.records import Conversation, Violation
from tests.local_discord.rest import RestRoutes


class LocalDiscord(RestRoutes, Gateway, UserDriver):
    """Discord, as far as the bot can tell: the HTTP API, the Gateway and the people
    using the bot, sharing one record of interactions and messages."""

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
