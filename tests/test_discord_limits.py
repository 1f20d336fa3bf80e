"""What the bot sends fits Discord's limits whatever users typed and however many models
are loaded."""

import asyncio
from types import SimpleNamespace

import pytest

from bot.contract.metadata import ModelMetadata
from bot.discord_app.cogs.admin import models_embed
from bot.discord_app.replies import send_ephemeral
from bot.errors import ModelUnavailable, quoted
from bot.write.service import WriteRequest


def fake_model(name: str, long: bool):
    meta = ModelMetadata(
        kind="charlm",
        data_sources=[{"file": "x" * (300 if long else 10) + ".txt"}],
        metrics={"val_nats_per_token": 1.2345},
        trained_at="2026-11-23T00:00:00",
    )
    return SimpleNamespace(name=name, metadata=meta)


@pytest.mark.parametrize("count,long", [(3, False), (40, False), (40, True), (24, True)])
def test_models_embed_fits_any_number_of_models(count, long):
    names = [("m" * 300 if long else "m") + str(i) for i in range(count)]
    engine = SimpleNamespace(
        models={n: fake_model(n, long) for n in names},
        failures={f"broken{i}" + "z" * (300 if long else 0): "w" * 2000 for i in range(5)},
        model_dir="/models",
    )
    embed = models_embed(engine)
    assert len(embed) <= 6000 and len(embed.fields) <= 25
    assert all(len(f.name) <= 256 and len(f.value) <= 1024 for f in embed.fields)
    shown = sum(1 for f in embed.fields if f.name != "…")
    if shown < count + 5:
        assert embed.fields[-1].value == f"and {count + 5 - shown} more"


def test_user_text_echoed_in_errors_is_cut_and_escaped(services):
    with pytest.raises(ModelUnavailable) as caught:
        services.write.write(WriteRequest("**bold** " + "x" * 2000, "", 50))
    message = str(caught.value)
    assert len(message) < 200 and "\\*\\*bold\\*\\*" in message
    assert quoted("a\nb `c`") == "'a b \\`c\\`'"


def test_an_ephemeral_error_never_exceeds_a_message():
    sent = {}

    class Response:
        def is_done(self):
            return False

        async def send_message(self, message, **kwargs):
            sent["message"] = message

    interaction = SimpleNamespace(response=Response())
    asyncio.run(send_ephemeral(interaction, "e" * 5000))
    assert len(sent["message"]) == 2000


def test_write_style_option_is_bounded():
    from bot.discord_app.cogs.write import WriteCog

    style = next(p for p in WriteCog.write.parameters if p.name == "style")
    assert style.max_value == 100  # the string length limit Discord enforces
