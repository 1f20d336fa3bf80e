"""The serving core on the Discord path: concurrent users share step calls, a waiting
user sees their place in line, a job whose interaction is gone or whose deadline passes
is cancelled and its slot freed."""

import asyncio

import pytest

from bot.contract.trained import SHIPPED
from bot.discord_app.admission import Admission
from tests.discord_harness import run_with_bot


@pytest.fixture(autouse=True)
def no_cooldowns(monkeypatch):
    for command in ("COLOR", "WRITE", "CAPTION", "PAINT"):
        monkeypatch.setenv(f"RNNBOT_COOLDOWN_{command}", "0/0")


def finished(conversation) -> bool:
    edits = [p for p in conversation.posts if p.kind == "edit"]
    return (
        bool(edits)
        and edits[-1].payload.get("content", "").startswith("**tiny**")
        and not (edits[-1].payload.get("content", "").endswith("▌"))
    )


def test_concurrent_writers_share_step_calls(services):
    users, length = 6, 300

    async def scenario(discord, bot):
        runs = [
            await discord.run(
                "write", style="tiny", length=length, seed=u, user_id=100 + u, wait=False
            )
            for u in range(users)
        ]
        for run in runs:
            await run.wait_until(finished)
        assert not any("busy" in p.text for run in runs for p in run.posts)
        steps = services.pool.stats()["tiny"]["steps"]
        assert steps < users * length / 2, steps  # they ran together, not in turn

    run_with_bot(services, scenario)


class SlowWrite:
    """The real /write service, but every job first takes 2 s."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        return getattr(self.real, name)

    async def write_async(self, request, on_progress=None, deadline=None, scope=SHIPPED):
        await asyncio.sleep(2.0)
        return await self.real.write_async(request, on_progress, deadline, scope)


def test_a_waiting_user_is_told_their_place_in_line(services):
    services.write = SlowWrite(services.write)

    async def scenario(discord, bot):
        first = await discord.run("write", style="tiny", length=50, user_id=1, wait=False)
        await first.wait_until(lambda c: c.posts)
        second = await discord.run("write", style="tiny", length=50, user_id=2, wait=False)
        await second.wait_until(lambda c: any("number 1 in line" in p.text for p in c.posts))
        assert not first.done.is_set() and not finished(first)
        await first.wait_until(finished)
        await second.wait_until(finished)
        third = await discord.run("write", style="tiny", length=50, user_id=3, wait=False)
        await third.wait_until(finished)

    run_with_bot(services, scenario, admission=Admission(concurrency=1, max_waiting=2))


def test_a_gone_interaction_cancels_its_generation(services, slow_steps, monkeypatch):
    import bot.discord_app.cogs.write as write_cog

    monkeypatch.setattr(write_cog, "EDIT_INTERVAL", 0.1)

    async def scenario(discord, bot):
        run = await discord.run("write", style="tiny", length=1500, seed=1, wait=False)
        await run.wait_until(lambda c: any(p.kind == "edit" for p in c.posts))
        run.gone = True  # the user deleted the message, or the token expired
        await asyncio.sleep(1.0)
        assert services.pool.stats()["tiny"]["active"] == 0  # stopped, slot freed
        provoked = [v for v in discord.violations if v.route.startswith("PATCH")]
        assert provoked and all(v.rule == "gone" for v in provoked)  # the edit that found out
        for violation in provoked:
            discord.violations.remove(violation)  # anything else the bot sent is its own
        again = await discord.run("color", name="forest")
        assert again.final.payload["embeds"][0]["title"] == "forest"

    run_with_bot(services, scenario)


def test_a_job_past_its_deadline_is_stopped_and_the_user_told(services, slow_steps):
    async def scenario(discord, bot):
        run = await discord.run("write", style="tiny", length=1500, seed=1)
        assert run.final.ephemeral and "took too long" in run.final.text
        assert services.pool.stats()["tiny"]["active"] == 0

    run_with_bot(services, scenario, admission=Admission(job_seconds=1.0))
