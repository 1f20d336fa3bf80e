"""Runs the real bot (discord.py client, cogs, services) against the local Discord.

A test fails when the stand-in refused anything the bot sent (real Discord would have
refused it too), unless the test provoked it and cleared `discord.violations`; and when
the client task dies mid-scenario, with the client's own exception rather than a
timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.discord_app.client import RnnBot, serve
from bot.discord_app.endpoints import use_local_discord
from bot.discord_app.store.settings import SettingsStore
from tests.local_discord import TOKEN, LocalDiscord

Scenario = Callable[[LocalDiscord, RnnBot], Awaitable[None]]


class ClientStopped(AssertionError):
    """The discord.py client returned from `start()` while the scenario still ran."""


def describe_violations(discord_server: LocalDiscord) -> str:
    lines = [f"  {violation}" for violation in discord_server.violations]
    count = len(lines)
    return f"Discord would have refused {count} request(s) from the bot:\n" + "\n".join(lines)


async def race_with_client(work: Awaitable[None], runner: asyncio.Task, timeout: float) -> None:
    """Await `work`, but stop at once if the client task ends first, raising what it
    raised: a crashed client would otherwise only show as a timeout."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait({task, runner}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        if runner.done():
            runner.result()  # the client crashed: raise its exception
            raise ClientStopped("the discord.py client stopped during the scenario")
        raise TimeoutError(f"the scenario did not finish within {timeout} s")
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _run(
    services, scenario: Scenario, timeout: float, discord_options: dict, **bot_options
) -> None:
    if "settings_store" not in bot_options:  # never the real default file
        folder = tempfile.mkdtemp(prefix="rnnbot-settings-")
        bot_options["settings_store"] = SettingsStore(Path(folder) / "settings.sqlite3")
    discord_server = LocalDiscord(**discord_options)
    await discord_server.start()
    use_local_discord(discord_server.api_base, discord_server.gateway_url, discord_server.cdn_base)
    bots: list[RnnBot] = []  # a second one when Discord asked for more shards (4011)
    runner = asyncio.create_task(serve(services, TOKEN, bots.append, **bot_options))
    try:
        await race_with_client(discord_server.ready.wait(), runner, timeout)
        await race_with_client(scenario(discord_server, bots[-1]), runner, timeout)
    except Exception as error:
        if discord_server.violations:  # often the reason the scenario failed
            error.add_note(describe_violations(discord_server))
        raise
    finally:
        if bots:
            await bots[-1].close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(runner, 15)  # `serve` then closes the models
        await discord_server.stop()
    assert not discord_server.violations, describe_violations(discord_server)


def run_with_bot(
    services,
    scenario: Scenario,
    timeout: float = 60.0,
    discord_options: dict | None = None,
    **bot_options,
) -> None:
    """`discord_options` go to the `LocalDiscord` (`shards=2`), `bot_options` to `RnnBot`."""
    asyncio.run(_run(services, scenario, timeout, discord_options or {}, **bot_options))
