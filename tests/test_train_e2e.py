"""`/train style` on the local Discord: a real fine-tuning process on a tiny model."""

import shutil

import pytest

from tests.conftest import make_text
from tests.discord_harness import run_with_bot
from tests.local_discord import GUILD_ID

MANAGE_GUILD = 1 << 5
LORE = "".join(f"Zed guards the {w} gate.\n" for w in ["north", "old", "iron"] * 80)


@pytest.fixture()
def own_models(model_dir, tmp_path, monkeypatch):
    """A copy of the tiny models (a job installs into it), with test-sized limits."""
    folder = tmp_path / "models"
    shutil.copytree(model_dir, folder)
    for name, value in {"MIN_CHARS": "200", "PROGRESS": "1", "EPOCHS": "2"}.items():
        monkeypatch.setenv(f"RNNBOT_TRAIN_{name}", value)
    monkeypatch.setenv("RNNBOT_COOLDOWN_WRITE", "0/0")
    return folder


def services_for(folder):
    from bot.config import Settings
    from bot.services import Services

    return Services.start(Settings(model_dir=folder, prefer_gpu=False))


def upload(text: str) -> dict:
    return {"text": (text.encode("utf-8"), "text/plain")}


OTHER_GUILD = GUILD_ID + (1 << 22)


def test_train_a_style_and_write_with_it_here_only(own_models):
    services = services_for(own_models)
    shipped = {p.name: p.read_bytes() for p in own_models.iterdir() if p.is_file()}

    async def scenario(discord, bot):
        refused = await discord.run("train style", name="lore", attachments=upload(LORE))
        assert refused.final.ephemeral and "not allowed" in refused.final.text
        tiny = await discord.run(
            "train style", name="lore", attachments=upload("too short"), permissions=MANAGE_GUILD
        )
        assert tiny.final.ephemeral and "at least 200" in tiny.final.text
        for taken in ("monet", "color", "captions_encoder", "tiny"):  # models of every kind
            clash = await discord.run(
                "train style", name=taken, attachments=upload(LORE), permissions=MANAGE_GUILD
            )
            assert clash.final.ephemeral and "bot's models" in clash.final.text, taken

        job = await discord.run(
            "train style",
            name="lore",
            attachments=upload(LORE),
            keep_text=True,
            permissions=MANAGE_GUILD,
            wait=False,
            timeout=120,
        )
        ended = ("✅", "failed", "nothing changed")
        await job.wait_until(
            lambda c: (
                any(e in c.message.get("content", "") for e in ended) if c.message_ids else False
            ),
            180,
        )
        assert "/write style:lore" in job.message["content"], job.message["content"]
        own = own_models / "trained" / str(GUILD_ID)
        assert (own / "lore.onnx").exists() and (own / "lore.weights.h5").exists()
        assert (own_models / "texts" / str(GUILD_ID) / "lore.txt").read_text("utf-8") == LORE
        assert "kept as `lore.txt`" in job.message["content"]
        assert str(own_models) not in job.message["content"]

        here = await discord.run("write", style="lore", prompt="Zed", length=60, wait=False)
        await here.wait_until(lambda c: bool(c.message_ids) and c.message.get("components"))
        models_here = await discord.run("models")
        assert "lore (trained here)" in models_here.final.text

        # Another server neither sees nor uses it: not to write, not to train from,
        # not in /models, nor in the list of styles an error offers.
        elsewhere = await discord.run("write", style="lore", length=60, guild_id=OTHER_GUILD)
        assert elsewhere.final.ephemeral and "No writing style" in elsewhere.final.text
        assert "lore" not in elsewhere.final.text.replace("'lore'", "")
        based = await discord.run(
            "train style",
            name="saga",
            base="lore",
            attachments=upload(LORE),
            permissions=MANAGE_GUILD,
            guild_id=OTHER_GUILD,
        )
        assert based.final.ephemeral and "to start from: tiny." in based.final.text
        models_there = await discord.run("models", guild_id=OTHER_GUILD)
        assert "lore" not in models_there.final.text

        published = await discord.run("train publish", name="lore", permissions=MANAGE_GUILD)
        assert "every server" in published.final.text

    try:
        run_with_bot(services, scenario, timeout=240)
    finally:
        services.close(grace=1.0)
    assert {n: (own_models / n).read_bytes() for n in shipped} == shipped


def test_cancel_and_a_failed_job_keep_the_old_models(own_models, monkeypatch):
    monkeypatch.setenv("RNNBOT_TRAIN_EPOCHS", "50")
    services = services_for(own_models)
    before = sorted(p.name for p in own_models.iterdir())

    async def scenario(discord, bot):
        text = upload(make_text(400))
        job = await discord.run(
            "train style", name="long", attachments=text, permissions=MANAGE_GUILD, wait=False
        )
        await job.wait_until(lambda c: bool(c.message_ids) and c.buttons(), 60)
        await job.wait_until(lambda c: "epoch" in c.message.get("content", ""), 120)
        cancel = await discord.press(job, "Cancel", permissions=MANAGE_GUILD)
        assert cancel.final.ephemeral
        await job.wait_until(lambda c: "cancelled" in c.message.get("content", ""), 60)
        assert not job.message.get("components")

        (own_models / "tiny.weights.h5").write_bytes(b"not HDF5")  # the base cannot load now
        failed = await discord.run(
            "train style", name="broken", attachments=text, permissions=MANAGE_GUILD, wait=False
        )
        await failed.wait_until(
            lambda c: "failed" in c.message.get("content", "") if c.message_ids else False, 120
        )
        assert "old models stay" in failed.message["content"]

    try:
        run_with_bot(services, scenario, timeout=300)
    finally:
        services.close(grace=1.0)
    after = sorted(p.name for p in own_models.iterdir())
    assert after == before  # nothing installed, and no text kept
