"""The stand-in's fixed ids and the JSON objects Discord sends: users, the application,
messages and where an interaction was used. Builders only: nothing here keeps state
(apart from the snowflake counter), so the routes, the Gateway and the user driver
shape every object the same way."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import discord

APPLICATION_ID = 900000000000000001
BOT_USER_ID = 900000000000000002
OWNER_ID = 900000000000000003
GUILD_ID = 900000000000000004
CHANNEL_ID = 900000000000000005
USER_ID = 900000000000000006
EPOCH_TIME = "2026-01-01T00:00:00.000000+00:00"
TOKEN = "local-test-token.Zm9vYmFy.c2VjcmV0LXRva2VuLXZhbHVl"

_ids = itertools.count()


def snowflake() -> str:
    """A Discord snowflake carrying the current time, as Discord's do (interaction ages
    are read from it)."""
    return str(discord.utils.time_snowflake(datetime.now(UTC)) + next(_ids) % 4096)


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


def application_payload() -> dict:
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


def bot_message(message_id: str, payload: dict, attachments: list[dict], flags: int) -> dict:
    """A message the bot made from `payload` (a response, follow-up or channel post)."""
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


def guild_context(user: dict, permissions: int, guild_id: int) -> dict:
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


def private_channel_context(user: dict) -> dict:
    """Used in a DM between users, through the user's own install of the app: only the
    USER_INSTALL key ("1") authorises it (context 2, PRIVATE_CHANNEL)."""
    return {
        "channel_id": str(CHANNEL_ID),
        "channel": {"id": str(CHANNEL_ID), "type": 1, "recipients": [user], "flags": 0},
        "user": user,
        "authorizing_integration_owners": {"1": user["id"]},
        "context": 2,
    }
