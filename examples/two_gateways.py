"""Two bot processes, one shard each, sharing one inference tier: the gateway tier.

Runs everything on loopback: the local Discord stand-in (tests/local_discord/) asking
for two shards, a local Ray instance with the Serve application, and two `python -m bot`
processes started with RNNBOT_SHARD_COUNT=2 and RNNBOT_SHARD_IDS=0 or 1, both pointed at
the same Serve application (RNNBOT_SERVE_ADDRESS). It then runs /write in a server of
each shard and prints who answered.

Usage: python examples/two_gateways.py [--models exported_models] [--style shakespeare]
(needs the `scale` and `dev` extras).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.local_discord import TOKEN, LocalDiscord, guild_on_shard  # noqa: E402

SHARDS = 2


def start_tier(models: Path) -> str:
    """A local Ray instance with the Serve application; returns its address."""
    import ray

    from bot.runtime.serve_app import start_local

    ray.init(include_dashboard=False, logging_level="ERROR")
    start_local(models)
    return ray.get_runtime_context().gcs_address


def start_gateway(shard: int, discord: LocalDiscord, address: str, models: Path, state: Path):
    env = {
        **os.environ,
        "DISCORD_TOKEN": TOKEN,
        "RNNBOT_DISCORD_API": discord.api_base,
        "RNNBOT_DISCORD_GATEWAY": discord.gateway_url,
        "RNNBOT_SHARD_COUNT": str(SHARDS),
        "RNNBOT_SHARD_IDS": str(shard),
        "RNNBOT_SERVE_ADDRESS": address,
        "RNNBOT_MODEL_DIR": str(models),
        "RNNBOT_CPU_ONLY": "1",
        "RNNBOT_SETTINGS_DB": str(state / "settings.sqlite3"),  # shared, as in production
    }
    return subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env)


async def run(models: Path, style: str, timeout: float = 120.0) -> list[str]:
    """Start the tiers, ask each shard's server for text, return the answers' first lines."""
    discord = LocalDiscord(shards=SHARDS)
    await discord.start()
    address = await asyncio.to_thread(start_tier, models)
    state = Path(tempfile.mkdtemp(prefix="rnnbot-gateways-"))
    gateways = [start_gateway(shard, discord, address, models, state) for shard in range(SHARDS)]
    try:
        await asyncio.wait_for(discord.ready.wait(), timeout)
        answers = []
        for shard in range(SHARDS):
            conversation = await discord.run(
                "write",
                style=style,
                length=80,
                seed=shard,
                guild_id=guild_on_shard(shard, SHARDS),
                wait=False,
            )
            await conversation.wait_until(
                lambda c: bool(c.message_ids) and c.message.get("components"), timeout
            )
            answers.append(f"shard {shard}: {conversation.message['content'].splitlines()[0]}")
        return answers
    finally:
        for process in gateways:
            process.terminate()
        for process in gateways:
            process.wait(15)
        await discord.stop()
        import ray
        from ray import serve

        serve.shutdown()
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=Path, default=ROOT / "exported_models")
    parser.add_argument("--style", default="shakespeare")
    args = parser.parse_args()
    for line in asyncio.run(run(args.models, args.style)):
        print(line)


if __name__ == "__main__":
    main()
