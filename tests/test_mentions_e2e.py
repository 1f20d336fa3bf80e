"""A style that has learned to write mentions: whatever it writes, nobody is pinged.

The model here is trained on text full of `@everyone`, `@here`, `<@123>` and `<@&456>`,
so its vocabulary has `@` and `<` and it really produces them (checked), and the replies
must still carry no mention (allowed_mentions none, in content and in embeds) and show
the syntax broken."""

import re

import pytest

from bot.config import Settings
from bot.services import Services
from bot.write.service import WriteRequest
from tests.conftest import write_train_args
from tests.discord_harness import run_with_bot

PING = re.compile(r"@(everyone|here)|<@[!&]?\d+>")


@pytest.fixture(scope="module")
def pinger_dir(tmp_path_factory, model_dir):
    import random
    import shutil

    from training.write import train_write

    rng = random.Random(1)
    pieces = ["@everyone", "@here", "<@123>", "<@&456>"]
    text = "".join(" ".join(rng.choice(pieces) for _ in range(4)) + "\n" for _ in range(600))
    data = tmp_path_factory.mktemp("pings") / "pings.txt"
    data.write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp("pmodels")
    args = write_train_args(data, tmp_path_factory.mktemp("prun"), out / "pinger.onnx", epochs=4)
    args.style = "pinger"
    train_write(args)
    shutil.copy(model_dir / "color.onnx", out / "color.onnx")
    return out


@pytest.fixture(autouse=True)
def no_cooldowns(monkeypatch):
    for command in ("COLOR", "WRITE", "CAPTION", "PAINT"):
        monkeypatch.setenv(f"RNNBOT_COOLDOWN_{command}", "0/0")


def test_a_style_that_writes_mentions_pings_no_one(pinger_dir):
    services = Services.start(Settings(model_dir=pinger_dir, prefer_gpu=False))
    raw = services.write.write(WriteRequest("pinger", "", 600, 0.5, 3)).text
    assert PING.search(raw), "the model must really produce mentions for this test to mean much"

    async def scenario(discord, bot):
        runs = []
        for seed in range(3):
            run = await discord.run(
                "write", style="pinger", length=600, temperature=0.5, seed=seed, wait=False
            )
            await run.wait_until(
                lambda c: any(
                    p.kind == "edit" and not p.payload.get("content", "").endswith("▌")
                    for p in c.posts
                )
            )
            runs.append(run)
        runs.append(await discord.run("write", style="<@123> @everyone"))  # echoed in an error
        for run in runs:
            for post in run.posts:
                data = (
                    post.payload.get("data", post.payload)
                    if post.kind == "callback"
                    else post.payload
                )
                data = data or {}
                if data.get("content") is not None or data.get("embeds"):
                    assert data.get("allowed_mentions", {}).get("parse") == [], post
                    assert not data["allowed_mentions"].get("users")
                    assert not data["allowed_mentions"].get("roles")
                assert not PING.search(post.text), post.text

    run_with_bot(services, scenario, timeout=120)
