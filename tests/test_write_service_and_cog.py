"""/write: the service on a tiny model, the cog with a mocked Interaction, the CLI."""

import asyncio
import json
import subprocess
import sys
from unittest.mock import AsyncMock

import pytest

from bot.contract.trained import SHIPPED
from bot.discord_app.cogs.write import MESSAGE_LIMIT, WriteCog, final_message
from bot.discord_app.replies import plain_text
from bot.errors import InvalidInput, ModelUnavailable
from bot.write.service import WriteRequest, WriteResult
from tests.test_color_cog import fake_interaction


def test_styles_lists_loaded_writing_models(services):
    assert services.write.styles() == {"tiny": "tiny"}


def test_same_seed_same_text_and_prompt_kept(services):
    request = WriteRequest("tiny", prompt="the king", length=60, temperature=0.8, seed=5)
    first = services.write.write(request)
    second = services.write.write(request)
    assert first.text == second.text
    assert first.text.startswith("the king")
    assert first.generated_chars == 60 and len(first.text) == len("the king") + 60
    other = services.write.write(WriteRequest("tiny", "the king", 60, 0.8, seed=6))
    assert other.text != first.text


def test_greedy_is_deterministic_and_seed_is_reported(services):
    a = services.write.write(WriteRequest("tiny", "", 50, 0.0))
    b = services.write.write(WriteRequest("tiny", "", 50, 0.0))
    assert a.text == b.text
    assert isinstance(a.seed, int) and a.seed >= 0  # a seed is always chosen and reported


def test_unknown_prompt_characters_are_dropped_with_a_note(services):
    result = services.write.write(WriteRequest("tiny", "the king 🌲", 50, 0.5, 1))
    assert result.prompt == "the king "
    assert "Left out characters" in result.notes[0]


@pytest.mark.parametrize(
    "request_, message",
    [
        (WriteRequest("tiny", "🌲🌲", 50), "None of the prompt's characters"),
        (WriteRequest("tiny", "", 10), "length must be between 50 and 1500"),
        (WriteRequest("tiny", "", 5000), "length must be between 50 and 1500"),
        (WriteRequest("tiny", "", 100, temperature=3), "temperature must be between 0 and 2"),
        (WriteRequest("tiny", "", 100, temperature=-1), "temperature must be between 0 and 2"),
        (WriteRequest("tiny", "", 100, seed=-4), "seed must be between"),
        (WriteRequest("tiny", "x" * 10_000, 100), "limit is 500"),
    ],
)
def test_bad_requests(services, request_, message):
    with pytest.raises(InvalidInput, match=message):
        services.write.write(request_)


def test_unknown_style(services):
    with pytest.raises(ModelUnavailable, match="No writing style 'poe'"):
        services.write.write(WriteRequest("poe"))


def test_cog_defers_and_edits_with_the_text(services):
    cog = WriteCog(services.write)
    interaction = fake_interaction()
    interaction.edit_original_response = AsyncMock()
    asyncio.run(cog.write.callback(cog, interaction, "tiny", "the cat", 100, 0.5, 3))
    interaction.response.defer.assert_awaited_once()
    final = interaction.edit_original_response.await_args.kwargs
    expected = services.write.write(WriteRequest("tiny", "the cat", 100, 0.5, 3)).text
    assert expected in plain_text(final["content"])
    assert [b.item.label for b in final["view"].children] == [
        "Again",
        "Continue",
        "Hotter",
        "Cooler",
    ]
    assert final["attachments"] == []
    assert len(final["content"]) <= MESSAGE_LIMIT
    mentions = final["allowed_mentions"]
    assert not (mentions.everyone or mentions.users or mentions.roles)


def test_cog_long_output_goes_to_an_attachment(services):
    cog = WriteCog(services.write)
    interaction = fake_interaction()
    interaction.edit_original_response = AsyncMock()
    prompt = "the king sees the moon. " * 20  # 480 characters, + 1,500 generated
    asyncio.run(cog.write.callback(cog, interaction, "tiny", prompt, 1500, 0.8, 1))
    final = interaction.edit_original_response.await_args.kwargs
    (attachment,) = final["attachments"]
    assert attachment.filename == "tiny-1.txt"
    text = attachment.fp.read().decode("utf-8")
    assert text.startswith(prompt) and len(text) == len(prompt) + 1500
    assert "full text attached" in final["content"] and len(final["content"]) <= MESSAGE_LIMIT


def test_cog_bad_options_raise_before_defer(services):
    cog = WriteCog(services.write)
    interaction = fake_interaction()
    with pytest.raises(InvalidInput):
        asyncio.run(cog.write.callback(cog, interaction, "tiny", "🌲", 100, 0.8, None))
    interaction.response.defer.assert_not_awaited()


def test_final_message_escapes_markdown_and_fits():
    result = WriteResult("**bold** @everyone", "tiny", 1, "", 18, 0.1)
    content, attachment = final_message(result, 0.8)
    assert attachment is None and "\\*\\*bold\\*\\*" in content


def test_write_one_shot_json_is_reproducible(model_dir):
    argv = [
        sys.executable,
        "-m",
        "bot",
        "--model-dir",
        str(model_dir),
        "--cpu",
        "write",
        "--style",
        "tiny",
        "--prompt",
        "a dog",
        "--length",
        "80",
        "--seed",
        "1",
        "--json",
    ]
    runs = [subprocess.run(argv, capture_output=True, text=True, timeout=120) for _ in range(2)]
    payloads = [json.loads(r.stdout.strip().splitlines()[-1]) for r in runs]
    assert payloads[0]["text"] == payloads[1]["text"]
    assert payloads[0]["text"].startswith("a dog")
    assert payloads[0]["style"] == "tiny" and payloads[0]["seed"] == 1
    assert payloads[0]["chars_per_second"] > 0


class SlowWriteService:
    """Reports progress every 10 ms for 0.5 s, like a long generation."""

    def __init__(self, real):
        self.real = real

    def styles(self, scope=SHIPPED):
        return self.real.styles(scope)

    def validate(self, request, scope=SHIPPED):
        return self.real.validate(request, scope)

    async def write_async(self, request, on_progress=None, deadline=None, scope=SHIPPED):
        for i in range(50):
            await asyncio.sleep(0.01)
            on_progress("x" * (i + 1))
        return await self.real.write_async(request, deadline=deadline, scope=scope)


def test_progress_edits_are_throttled(services, monkeypatch):
    import bot.discord_app.cogs.write as write_cog

    monkeypatch.setattr(write_cog, "EDIT_INTERVAL", 0.1)
    cog = WriteCog(SlowWriteService(services.write))
    interaction = fake_interaction()
    interaction.edit_original_response = AsyncMock()
    asyncio.run(cog.write.callback(cog, interaction, "tiny", "", 50, 0.5, 3))
    calls = interaction.edit_original_response.await_args_list
    progress = [c.kwargs["content"] for c in calls[:-1]]
    assert 2 <= len(progress) <= 7  # about one edit per interval over 0.5 s, not 50
    assert all(p.endswith("▌") for p in progress)
    assert not calls[-1].kwargs["content"].endswith("▌")


def test_progress_snapshots_are_prefixes_of_the_final_text(services):
    seen = []
    result = services.write.write(WriteRequest("tiny", "the king", 100, 0.8, 4), seen.append)
    assert len(seen) == 100 // 16
    for i, snapshot in enumerate(seen, 1):
        assert result.text.startswith(snapshot) and len(snapshot) == len("the king") + 16 * i


def test_style_autocomplete_offers_only_this_servers_styles(model_dir, tmp_path):
    """A style another server trained and has not published is not suggested here."""
    import shutil
    from types import SimpleNamespace

    from bot.discord_app.store.settings import SettingsStore
    from bot.runtime.engine import InferenceEngine
    from bot.write.service import WriteService

    (tmp_path / "models" / "trained" / "2").mkdir(parents=True)
    shutil.copy(model_dir / "tiny.onnx", tmp_path / "models" / "trained" / "2" / "tiny.onnx")
    engine = InferenceEngine(tmp_path / "models", prefer_gpu=False)
    engine.load_all()

    async def scenario():
        store = SettingsStore(tmp_path / "settings.sqlite3")
        await store.open()
        cog = WriteCog(WriteService(engine, pool=None))
        client = SimpleNamespace(server_settings=store)
        offered = {}
        for guild in (1, 2):
            where = SimpleNamespace(client=client, guild_id=guild, extras={})
            offered[guild] = [c.value for c in await cog.style_autocomplete(where, "ti")]
        await store.add_style("tiny", 2)
        assert await store.publish_style("tiny", 2)
        here = SimpleNamespace(client=client, guild_id=1, extras={})
        offered["published"] = [c.value for c in await cog.style_autocomplete(here, "ti")]
        await store.close()
        return offered

    assert asyncio.run(scenario()) == {1: [], 2: ["tiny"], "published": ["tiny"]}
    engine.close()
