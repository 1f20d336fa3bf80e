"""Where discord.py connects. Production uses Discord's defaults; tests point it at a
local stand-in of the API and Gateway (see tests/local_discord/)."""

from __future__ import annotations

import discord
import yarl
from discord.gateway import DiscordWebSocket


def use_local_discord(api_base: str, gateway_url: str, cdn_base: str | None = None) -> None:
    """For tests only: send HTTP requests to `api_base`, connect to `gateway_url`, and
    read avatars from `cdn_base`."""
    discord.http.Route.BASE = api_base
    if cdn_base:
        discord.Asset.BASE = cdn_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
