"""Prometheus metrics and health endpoints of a running bot, scraped over HTTP."""

import aiohttp
import pytest

from tests.discord_harness import run_with_bot


@pytest.fixture(autouse=True)
def no_cooldowns(monkeypatch):
    for command in ("COLOR", "WRITE", "CAPTION", "PAINT", "NAME"):
        monkeypatch.setenv(f"RNNBOT_COOLDOWN_{command}", "0/0")


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from the text exposition format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    head = f"{name}{{{wanted}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(head + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_counters_move_and_health_endpoints_answer(services):
    services.settings.metrics_port = 0  # any free port

    async def scenario(discord, bot):
        base = f"http://127.0.0.1:{bot.metrics_port}"
        async with aiohttp.ClientSession() as http:
            assert (await http.get(f"{base}/healthz")).status == 200
            await bot.wait_until_ready()
            assert (await http.get(f"{base}/readyz")).status == 200
            before = await (await http.get(f"{base}/metrics")).text()

            await discord.run("color", name="forest")
            await discord.run("color", name="\u2603")  # no known character: a user error
            write = await discord.run("write", style="tiny", length=60, wait=False)
            await write.wait_until(lambda c: bool(c.message_ids) and c.message.get("components"))
            after = await (await http.get(f"{base}/metrics")).text()

        assert sample(after, "rnnbot_requests_total", command="color") == 2 + sample(
            before, "rnnbot_requests_total", command="color"
        )
        assert sample(after, "rnnbot_errors_total", command="color") >= 1
        assert sample(after, "rnnbot_request_seconds_count", command="write") >= 1
        assert sample(after, "rnnbot_tokens_total", model="tiny") >= 60
        assert sample(after, "rnnbot_provider", provider="CPUExecutionProvider") == 1
        assert sample(after, "rnnbot_models_loaded") >= 3
        assert "rnnbot_jobs_waiting" in after and "rnnbot_batch_occupancy" in after

    run_with_bot(services, scenario, timeout=90)
