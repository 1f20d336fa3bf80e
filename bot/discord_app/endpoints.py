"""Where discord.py connects. Production uses Discord's defaults; tests point it at a
local stand-in of the API and Gateway (see tests/local_discord.py)."""

from __future__ import annotations

import discord
import yarl
from discord.gateway import DiscordWebSocket


def use_local_discord(api_base: str, gateway_url: str) -> None:
    """For tests only: send HTTP requests to `api_base` and connect to `gateway_url`."""
    discord.http.Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
