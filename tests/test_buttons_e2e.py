"""Buttons on answers, pressed on the local Discord as component interactions."""

import pytest

from bot.discord_app.replies import plain_text
from bot.discord_app.write_cog import Answer, next_request
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
        assert "seed 4" not in again.message["content"] and body(again).startswith("the king")

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


def test_a_button_from_before_a_restart_still_works(services):
    """Nothing about the answer is kept in memory: a message posted by an earlier run of
    the bot (made here from its custom_id alone) is answered the same way."""

    async def scenario(discord, bot):
        answer = Answer("tiny", 9, 0.5, 50, 3, USER_ID)
        old = discord.message_payload("**tiny** · temperature 0.5 · seed 9\nthe cat sat")
        old["components"] = [
            {
                "type": 1,
                "components": [
                    {
                        "type": 2,
                        "style": 2,
                        "label": "Again",
                        "custom_id": answer.custom_id("again"),
                    }
                ],
            }
        ]
        from tests.local_discord import Conversation

        holder = Conversation("old", "0", 0.0, source_message_id=old["id"], store=discord.messages)
        again = await discord.press(holder, "Again", wait=False)
        await again.wait_until(finished)
        assert body(again).startswith("the")

    run_with_bot(services, scenario, timeout=120)


def test_a_button_whose_style_is_gone_is_switched_off(services):
    async def scenario(discord, bot):
        answer = Answer("vanished", 9, 0.5, 50, 0, USER_ID)
        old = discord.message_payload("**vanished** · temperature 0.5 · seed 9\nabc")
        old["components"] = [
            {
                "type": 1,
                "components": [
                    {
                        "type": 2,
                        "style": 2,
                        "label": "Again",
                        "custom_id": answer.custom_id("again"),
                    }
                ],
            }
        ]
        from tests.local_discord import Conversation

        holder = Conversation("old", "0", 0.0, source_message_id=old["id"], store=discord.messages)
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
