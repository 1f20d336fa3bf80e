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


def stub_services(stats: dict[str, dict[str, int]]):
    """What the metrics read from the services, without models: the settings, the pool's
    numbers per model and the engine's."""
    from types import SimpleNamespace

    from bot.config import Settings

    pool = SimpleNamespace(max_batch=4, stats=lambda: stats)
    engine = SimpleNamespace(providers=SimpleNamespace(providers=[]), models={}, reloads=0)
    return SimpleNamespace(settings=Settings(), pool=pool, engine=engine)


def test_the_endpoint_listens_on_loopback_unless_configured(monkeypatch):
    """It has no authentication: by default only this machine reaches it."""
    import asyncio

    from bot.config import Settings
    from bot.discord_app.admission import Admission
    from bot.discord_app.metrics import BotMetrics, start_endpoint

    monkeypatch.delenv("RNNBOT_METRICS_HOST", raising=False)
    assert Settings.from_env().metrics_host == "127.0.0.1"
    monkeypatch.setenv("RNNBOT_METRICS_HOST", "0.0.0.0")  # e.g. inside a compose network
    assert Settings.from_env().metrics_host == "0.0.0.0"

    async def bound_addresses() -> list:
        metrics = BotMetrics(stub_services({}), Admission())
        runner, _ = await start_endpoint(metrics, lambda: True, 0)
        try:
            return [address[0] for address in runner.addresses]
        finally:
            await runner.cleanup()

    assert asyncio.run(bound_addresses()) == ["127.0.0.1"]


def test_trained_styles_are_counted_without_their_names():
    """A style trained in a server is "<guild_id>/<style>" in the engine; its name and the
    server's id must not become labels."""
    from bot.discord_app.admission import Admission
    from bot.discord_app.metrics import BotMetrics

    stats = {
        "tiny": {"active": 1, "waiting": 0, "steps": 5, "tokens": 10},
        "111222333/our-secret-lore": {"active": 2, "waiting": 0, "steps": 7, "tokens": 30},
        "444555666/inside-jokes": {"active": 0, "waiting": 0, "steps": 2, "tokens": 5},
    }
    text = BotMetrics(stub_services(stats), Admission()).scrape().decode()
    assert sample(text, "rnnbot_tokens_total", model="tiny") == 10
    assert sample(text, "rnnbot_tokens_total", model="trained") == 35
    assert sample(text, "rnnbot_batch_occupancy", model="trained") == 2 / (4 * 2)
    for private in ("secret", "inside-jokes", "111222333", "444555666"):
        assert private not in text
