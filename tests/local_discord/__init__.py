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

Its parts, by what they play: `rest` (the HTTP routes), `gateway` (the websocket),
`driver` (the person using the bot), `payloads` (the JSON objects Discord sends),
`records` (what a test reads back) and `server` (the three parts as one server).
"""

from tests.local_discord.payloads import (
    APPLICATION_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    GUILD_ID,
    OWNER_ID,
    TOKEN,
    USER_ID,
    guild_on_shard,
    owning_shard,
    snowflake,
    user_payload,
)
from tests.local_discord.records import Conversation, Posted, Violation
from tests.local_discord.server import LocalDiscord

__all__ = [
    "APPLICATION_ID",
    "BOT_USER_ID",
    "CHANNEL_ID",
    "GUILD_ID",
    "OWNER_ID",
    "TOKEN",
    "USER_ID",
    "Conversation",
    "LocalDiscord",
    "Posted",
    "Violation",
    "guild_on_shard",
    "owning_shard",
    "snowflake",
    "user_payload",
]
