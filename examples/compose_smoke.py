"""Smoke test of the containers: `deploy/compose.yaml` (Ray head with the Serve
application, a Ray worker, the bot) against the local Discord stand-in on this machine.

Starts the stand-in listening on every interface (the bot's container reaches it as
host.docker.internal), brings the compose project up, waits for the bot's gateway
session, runs /write, /paint and /models, checks the answers came through the inference
tier (every step deployment listed), checks the deployment is locked (Ray's job API
refuses a request without the cluster's token; no process but the bot holds
DISCORD_TOKEN), prints it all and takes the project down.

Usage: python examples/compose_smoke.py [--image rnnbot:cpu] (needs Docker with
docker-compose, the image built, and the `dev` extra for the stand-in).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.local_discord import TOKEN, LocalDiscord  # noqa: E402

COMPOSE = ["docker-compose", "-f", str(ROOT / "deploy" / "compose.yaml"), "-p", "rnnbot-smoke"]
DEPLOYMENTS = ("CaptionSteps", "NameSteps", "PaintSteps", "WriteSteps")

# Run in the head's container: the job API's answer without the token, then with it.
JOB_API_STATUS = """
import os, urllib.error, urllib.request
def status(headers):
    request = urllib.request.Request("http://127.0.0.1:8265/api/jobs/", headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code
token = open(os.environ["RAY_AUTH_TOKEN_PATH"]).read().strip()
print(status({}), status({"Authorization": "Bearer " + token}))
"""
# Run in each container: the command lines of the processes that hold DISCORD_TOKEN
# (but this one, which `exec` gives the service's environment).
TOKEN_HOLDERS = """
import os
from pathlib import Path
for proc in Path("/proc").glob("[0-9]*"):
    if proc.name == str(os.getpid()):
        continue
    try:
        environ = (proc / "environ").read_bytes().split(b"\\0")
        command = (proc / "cmdline").read_bytes().replace(b"\\0", b" ").decode()
    except OSError:
        continue
    if any(line.startswith(b"DISCORD_TOKEN=") for line in environ):
        print(command.strip()[:60])
"""


def compose(*args: str, env: dict | None = None) -> None:
    subprocess.run([*COMPOSE, *args], check=True, env=env)


def in_container(service: str, code: str, env: dict) -> str:
    """What `code` prints, run by Python in `service`'s container."""
    command = [*COMPOSE, "exec", "-T", service, "python", "-c", code]
    return subprocess.run(command, check=True, env=env, capture_output=True, text=True).stdout


def locked(env: dict) -> list[str]:
    """Ray's job API needs the token; only the bot's own process holds DISCORD_TOKEN."""
    without, with_token = in_container("ray-head", JOB_API_STATUS, env).split()
    assert without in ("401", "403") and with_token == "200", (without, with_token)
    lines = [f"job API: {without} without the token, {with_token} with it"]
    for service in ("ray-head", "ray-worker", "bot"):
        holders = in_container(service, TOKEN_HOLDERS, env).splitlines()
        assert holders == (["python -m bot"] if service == "bot" else []), (service, holders)
        lines.append(f"DISCORD_TOKEN in {service}: {holders or 'no process'}")
    return lines


async def answered(conversation, timeout: float) -> dict:
    await conversation.wait_until(
        lambda c: bool(c.message_ids) and c.message.get("components"), timeout
    )
    return conversation.message


async def smoke(image: str, timeout: float, save: Path | None = None) -> list[str]:
    discord = LocalDiscord(host="0.0.0.0", public_host="host.docker.internal")
    await discord.start()
    env = {
        **os.environ,
        "RNNBOT_IMAGE": image,
        "DISCORD_TOKEN": TOKEN,
        "RNNBOT_DISCORD_API": discord.api_base,
        "RNNBOT_DISCORD_GATEWAY": discord.gateway_url,
    }
    started = time.monotonic()
    await asyncio.to_thread(compose, "up", "-d", "--no-build", env=env)
    lines = []
    try:
        await asyncio.wait_for(discord.ready.wait(), timeout)
        lines.append(f"bot connected after {time.monotonic() - started:.0f} s")
        while True:  # the bot may be up before Serve has placed every deployment
            models = await discord.run("models")
            embeds = models.final.payload.get("embeds")
            assert embeds, f"/models answered {models.final.payload}"
            embed = embeds[0]
            fields = {f["name"]: f["value"] for f in embed.get("fields", [])}
            tier = next((v for k, v in fields.items() if k.startswith("Inference")), "")
            if all(name in tier for name in DEPLOYMENTS):
                break
            assert time.monotonic() - started < timeout, f"the tier never came up: {fields}"
            await asyncio.sleep(5)
        lines.append(f"tier ready after {time.monotonic() - started:.0f} s:\n{tier}")
        lines += await asyncio.to_thread(locked, env)
        write = await discord.run("write", style="shakespeare", length=120, seed=1, wait=False)
        lines.append("/write: " + (await answered(write, timeout))["content"])
        paint = await discord.run("paint", seed=3, wait=False)
        message = await answered(paint, timeout)
        files = [name for (mid, name) in discord.files if mid == message["id"]]
        lines.append(f"/paint: {message['content']!r}, files {files}")
        if save is not None:  # to look at what the containers painted
            save.write_bytes(discord.files[(message["id"], "painting.png")])
        return lines
    finally:
        await asyncio.to_thread(subprocess.run, [*COMPOSE, "logs", "--tail", "20", "bot"], env=env)
        await asyncio.to_thread(compose, "down", "-v", env=env)
        await discord.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", default="rnnbot:cpu")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--save", type=Path, help="write the painting there")
    args = parser.parse_args()
    for line in asyncio.run(smoke(args.image, args.timeout, args.save)):
        print(line)


if __name__ == "__main__":
    main()
