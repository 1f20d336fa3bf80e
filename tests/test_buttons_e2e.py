"""Buttons on answers, pressed on the local Discord as component interactions."""

import re

import pytest

from bot.discord_app.cogs.write import Answer, next_request
from bot.discord_app.replies import plain_text
from tests.discord_harness import run_with_bot
from tests.local_discord import USER_ID

OTHER_USER = USER_ID + 1


@pytest.fixture(autouse=True)
def no_cooldowns(monkeypatch):
    for command in ("COLOR", "WRITE", "CAPTION", "PAINT", "NAME"):
        monkeypatch.setenv(f"RNNBOT_COOLDOWN_{command}", "0/0")


def finished(conversation) -> bool:
    """The interaction's own new message carries its buttons: the answer is complete."""
    ids = conversation.message_ids
    return bool(ids) and bool(conversation.store.get(ids[0], {}).get("components"))


def body(conversation) -> str:
    """The generated text of a /write answer, as the user reads it."""
    return plain_text(conversation.message["content"].partition("\n")[2])


def test_write_buttons_again_continue_and_temperature(services):
    async def scenario(discord, bot):
        first = await discord.run(
            "write", style="tiny", prompt="the king", length=60, temperature=0.5, seed=4, wait=False
        )
        await first.wait_until(finished)
        labels = [b["label"] for b in first.buttons()]
        assert labels == ["Again", "Continue", "Hotter", "Cooler"]
        text = body(first)
        assert text.startswith("the king")

        more = await discord.press(first, "Continue", wait=False)
        await more.wait_until(finished)
        assert more.callback.payload["type"] == 5  # a new message, not an edit of the first
        continued = body(more)
        assert continued.startswith(text) and len(continued) > len(text) + 100

        hotter = await discord.press(first, "Hotter", wait=False)
        await hotter.wait_until(finished)
        assert "temperature 0.7 · seed 4" in hotter.message["content"]
        assert body(hotter).startswith("the king")

        again = await discord.press(first, "Again", wait=False)
        await again.wait_until(finished)
        # A new random seed (one that merely starts with 4, like 489055710, is new too).
        assert not re.search(r"seed 4(?!\d)", again.message["content"])
        assert body(again).startswith("the king")

    run_with_bot(services, scenario, timeout=120)


def test_only_the_asker_may_press_unless_the_server_allows_anyone(services):
    async def scenario(discord, bot):
        first = await discord.run("write", style="tiny", length=50, seed=1, wait=False)
        await first.wait_until(finished)
        refused = await discord.press(first, "Again", user_id=OTHER_USER)
        assert refused.final.ephemeral and "Only the person who asked" in refused.final.text

        await bot.server_settings.set(int(first_guild(discord)), None, "buttons", "anyone")
        allowed = await discord.press(first, "Again", user_id=OTHER_USER, wait=False)
        await allowed.wait_until(finished)
        assert not allowed.final.ephemeral

    run_with_bot(services, scenario, timeout=120)


def first_guild(discord) -> str:
    from tests.local_discord import GUILD_ID

    return str(GUILD_ID)


def earlier_answer(discord, answer: Answer, text: str):
    """A /write answer with its Again button, as an earlier run of the bot left it (made
    here from the custom_id alone), and a conversation to press it in."""
    from tests.local_discord import Conversation

    header = f"**{answer.style}** · temperature {answer.temperature:g} · seed {answer.seed}"
    old = discord.message_payload(f"{header}\n{text}")
    button = {"type": 2, "style": 2, "label": "Again", "custom_id": answer.custom_id("again")}
    old["components"] = [{"type": 1, "components": [button]}]
    return Conversation("old", "0", 0.0, source_message_id=old["id"], store=discord.messages)


def test_a_button_from_before_a_restart_still_works(services):
    """Nothing about the answer is kept in memory: a message posted by an earlier run of
    the bot is answered the same way."""

    async def scenario(discord, bot):
        holder = earlier_answer(discord, Answer("tiny", 9, 0.5, 50, 3, USER_ID), "the cat sat")
        again = await discord.press(holder, "Again", wait=False)
        await again.wait_until(finished)
        assert body(again).startswith("the")

    run_with_bot(services, scenario, timeout=120)


def test_a_button_whose_style_is_gone_is_switched_off(services):
    async def scenario(discord, bot):
        holder = earlier_answer(discord, Answer("vanished", 9, 0.5, 50, 0, USER_ID), "abc")
        press = await discord.press(holder, "Again")
        await press.wait_until(lambda c: c.followups >= 1)
        assert press.callback.payload["type"] == 7  # the message itself is updated
        assert all(b.get("disabled") for b in press.buttons())
        assert "No writing style" in press.final.text and press.final.ephemeral

    run_with_bot(services, scenario, timeout=60)


def test_continue_keeps_everything_before_the_prompt_window():
    answer = Answer("tiny", 1, 0.8, 400, 5, USER_ID)
    text = "x" * 700 + "the end"
    kept, request, given = next_request(answer, "more", text)
    assert kept + request.prompt == text and len(request.prompt) == 500
    assert given == len(text) and request.seed is None
    kept, request, given = next_request(answer, "cooler", text)
    assert (kept, request.prompt, request.temperature, request.seed) == ("", "xxxxx", 0.6, 1)


def test_caption_button_and_right_click_commands(services):
    from tests.conftest import CAPTION_COLORS, png_bytes
    from tests.local_discord import user_payload

    async def scenario(discord, bot):
        picture = png_bytes(CAPTION_COLORS["green"])
        posted = discord.message_payload("look", attachments={"photo.png": (picture, "image/png")})
        menu = await discord.run_menu("Caption this image", message=posted)
        embed = menu.message["embeds"][0]
        assert embed["title"] == "Caption for your image"
        assert embed["thumbnail"]["url"] == posted["attachments"][0]["url"]

        another = await discord.press(menu, "Another caption")
        again = another.message["embeds"][0]
        assert again["title"] == "Caption for your image" and "sampling" in again["footer"]["text"]

        bare = discord.message_payload("no picture here")
        refused = await discord.run_menu("Caption this image", message=bare)
        assert refused.final.ephemeral and "no image" in refused.final.text

        friend = {**user_payload(USER_ID + 5, "friend"), "avatar": "a" * 32}
        discord.avatars[friend["id"]] = png_bytes(CAPTION_COLORS["green"])
        avatar = await discord.run_menu("Caption their avatar", user=friend)
        assert avatar.message["embeds"][0]["title"] == "Caption for your image"

        text = discord.message_payload("the king and the queen")
        continued = await discord.run_menu("Continue this text", message=text, wait=False)
        await continued.wait_until(finished)
        assert body(continued).startswith("the king and the queen")

    run_with_bot(services, scenario, timeout=120)


def test_install_anywhere_but_admin_commands_stay_in_servers(services):
    async def scenario(discord, bot):
        await bot.tree.sync()
        synced = {c["name"]: c for c in discord.synced_commands}
        assert synced["write"]["integration_types"] == [0, 1]
        assert sorted(synced["write"]["contexts"]) == [0, 1, 2]
        for name in ("reload", "settings", "train"):
            assert synced[name]["integration_types"] == [0] and synced[name]["contexts"] == [0]
        assert synced["Caption this image"]["type"] == 3
        assert synced["Caption their avatar"]["type"] == 2
        french = synced["write"]["description_localizations"]["fr"]
        assert french and french != synced["write"]["description"]

        dm = await discord.run("write", style="tiny", length=50, user_installed=True, wait=False)
        await dm.wait_until(finished)
        assert dm.followups <= 5 and body(dm)

    run_with_bot(services, scenario, timeout=90)


def test_paint_buttons_new_variation_and_bigger(services):
    import io

    from PIL import Image

    async def scenario(discord, bot):
        first = await discord.run("paint", seed=3, wait=False)
        await first.wait_until(finished)
        assert [b["label"] for b in first.buttons()] == ["New painting", "Variations", "Bigger"]

        big = await discord.press(first, "Bigger", wait=False)
        await big.wait_until(finished)
        (png,) = big.posts[-1].files.values()
        assert Image.open(io.BytesIO(png)).size == (1024, 1024)
        assert "seed 3 ·" in big.message["content"]

        vary = await discord.press(first, "Variations", wait=False)
        await vary.wait_until(finished)
        assert "seed 3 · a variation" in vary.message["content"]
        (varied,) = vary.posts[-1].files.values()
        assert Image.open(io.BytesIO(varied)).size == (512, 512)

        new = await discord.press(first, "New painting", wait=False)
        await new.wait_until(finished)
        assert "seed 3 ·" not in new.message["content"]

    run_with_bot(services, scenario, timeout=180)


def test_a_variation_keeps_the_top_half_and_repaints_the_rest(services):
    from bot.paint.service import PaintRequest

    original = services.paint.paint(PaintRequest(3, 1.0)).indices
    varied = services.paint.paint(PaintRequest(3, 1.0, variation=11)).indices
    half = original.shape[0] // 2
    assert (varied[:half] == original[:half]).all()
    assert (varied[half:] != original[half:]).mean() > 0.2


def test_color_buttons_name_this_colour(services):
    async def scenario(discord, bot):
        answer = await discord.run("color", name="forest")
        labels = [b["label"] for b in answer.buttons()]
        assert labels[-1] == "Name this colour"
        named = await discord.press(answer, "Name this colour")
        embed = named.message["embeds"][0]
        assert embed["title"] == "Names for #228b22" and embed["description"]

    run_with_bot(services, scenario, timeout=90)


def test_a_passing_outage_leaves_the_buttons_on():
    """Only a model that is gone switches buttons off; "try again" errors do not."""
    import asyncio
    from types import SimpleNamespace
    from unittest.mock import AsyncMock

    from bot.discord_app.buttons import handle_press
    from bot.errors import ModelUnavailable
    from tests.test_color_cog import fake_interaction

    interaction = fake_interaction()
    interaction.client = SimpleNamespace()  # no settings, metrics or press cooldowns
    interaction.response.edit_message = AsyncMock()

    async def outage():
        raise ModelUnavailable("The inference service cannot be reached right now; try again.")

    asyncio.run(handle_press(interaction, "write", interaction.user.id, outage))
    interaction.response.edit_message.assert_not_awaited()
    (message,), kwargs = interaction.response.send_message.await_args
    assert "try again" in message and kwargs["ephemeral"]


def test_press_cooldowns_wait_and_forget_expired_buckets():
    """The second press within the rate waits; a bucket whose window has passed is
    dropped (a bot that sees many users would otherwise keep one per user forever)."""
    import time

    from bot.discord_app.buttons import PressCooldowns

    cooldowns = PressCooldowns()
    assert cooldowns.hit("write", 1, 1, 0.2) is None
    assert cooldowns.hit("write", 1, 1, 0.2) > 0  # the same user again, too soon
    assert cooldowns.hit("write", 1, 2, 0.2) is None  # a changed rate applies at once
    assert cooldowns.hit("write", 2, 1, 0.2) is None  # another user has their own
    time.sleep(0.3)
    assert cooldowns.hit("write", 3, 1, 0.2) is None
    assert list(cooldowns._mapping._cache) == [("write", 3, 1, 0.2)]  # the expired are gone
