"""Runs the real bot (discord.py client, cogs, services) against the local Discord."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from bot.discord_app.client import RnnBot
from bot.discord_app.endpoints import use_local_discord
from tests.local_discord import TOKEN, LocalDiscord

Scenario = Callable[[LocalDiscord, RnnBot], Awaitable[None]]


async def _run(services, scenario: Scenario, timeout: float, **bot_options) -> None:
    discord_server = LocalDiscord()
    await discord_server.start()
    use_local_discord(discord_server.api_base, discord_server.gateway_url)
    client = RnnBot(services, **bot_options)
    runner = asyncio.create_task(client.start(TOKEN))
    try:
        ready = asyncio.create_task(discord_server.ready.wait())
        await asyncio.wait({runner, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            runner.result()  # the client failed to start: raise why
        await asyncio.wait_for(scenario(discord_server, client), timeout)
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(runner, 5)
        await discord_server.stop()


def run_with_bot(services, scenario: Scenario, timeout: float = 60.0, **bot_options) -> None:
    asyncio.run(_run(services, scenario, timeout, **bot_options))
