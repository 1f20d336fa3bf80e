"""`/name`: invented names for a colour, through the service, the CLI and Discord."""

from __future__ import annotations

import json

import pytest

from bot.errors import InvalidInput
from bot.name.service import NameRequest, parse_color, title
from tests.discord_harness import run_with_bot


@pytest.mark.parametrize(
    "text, rgb, how",
    [
        ("#7a9e3b", (122, 158, 59), "hex"),
        ("7A9E3B", (122, 158, 59), "hex"),
        ("#7a3", (119, 170, 51), "hex"),
        ("rgb(122, 158, 59)", (122, 158, 59), "rgb"),
        ("forest", (34, 139, 34), "known name"),
    ],
)
def test_colours_are_read_as_users_write_them(services, text, rgb, how):
    assert parse_color(text, services.color) == (rgb, how)


@pytest.mark.parametrize(
    "text, message",
    [("", "Give a colour"), ("#12345", "not a colour code"), ("rgb(1, 2, 300)", "0 to 255")],
)
def test_bad_colours_get_clear_errors(services, text, message):
    with pytest.raises(InvalidInput, match=message):
        services.name.name(NameRequest(text))


def test_names_are_new_distinct_and_reproducible(services, monkeypatch):
    first = services.name.name(NameRequest("#7a9e3b", temperature=1.0, seed=3))
    again = services.name.name(NameRequest("#7a9e3b", temperature=1.0, seed=3))
    assert first.names == again.names and first.hex == "#7a9e3b"
    assert len(set(first.names)) == len(first.names) and first.names
    known = services.name.known_names(services.name.graph())
    assert "forest" in known
    assert not {n.lower() for n in first.names} & known
    # A name the lists have is never offered, however often the model says it.
    said = first.names[0].lower()
    monkeypatch.setattr(services.name, "known_names", lambda graph: frozenset([said]))
    again = services.name.name(NameRequest("#7a9e3b", temperature=1.0, seed=3))
    assert title(said) not in again.names


def test_cli_name_json(model_dir, tmp_path):
    from tests.test_cli import run_bot

    out = tmp_path / "name.png"
    done = run_bot(model_dir, "name", "#7a9e3b", "--seed", "1", "--json", "--out", str(out))
    payload = json.loads(done.stdout)
    assert done.returncode == 0 and payload["hex"] == "#7a9e3b" and payload["seed"] == 1
    assert payload["image"] == str(out) and out.read_bytes()[:4] == b"\x89PNG"
    bad = run_bot(model_dir, "name", "#zz", "--json")
    assert bad.returncode == 2 and "not a colour code" in json.loads(bad.stdout)["error"]


def test_name_command_end_to_end(services, monkeypatch):
    monkeypatch.setenv("RNNBOT_COOLDOWN_NAME", "0/0")

    async def scenario(discord, bot):
        conversation = await discord.run("name", color="rgb(122, 158, 59)", seed=2)
        assert conversation.callback.payload["type"] == 5  # deferred first
        embed = conversation.final.payload["embeds"][0]
        assert embed["title"] == "Names for #7a9e3b" and embed["color"] == 0x7A9E3B
        assert "seed 2" in embed["footer"]["text"]
        assert "swatch.png" in conversation.final.files
        bad = await discord.run("name", color="#12")
        assert bad.final.ephemeral and "not a colour code" in bad.final.text

    run_with_bot(services, scenario)


def test_name_evaluation_and_card(model_dir, color_csv, tmp_path, capsys):
    import shutil

    from training.__main__ import main as training_main

    for f in ("names.onnx", "color.onnx"):
        shutil.copy(model_dir / f, tmp_path / f)
    common = ["--model", str(tmp_path / "names.onnx"), "--color-model"]
    common += [str(tmp_path / "color.onnx"), "--data", str(color_csv)]
    assert training_main(["evaluate", "name", *common, "--colors", "3"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["colors_named"] == 3 and result["names_offered"] > 0
    assert {"round_trip_delta_e_mean", "round_trip_delta_e_other_color"} <= set(result)
    assert result["val_nats_per_char_own_color"] > 0 and 0 <= result["real_word_share"] <= 1
    run = sorted(model_dir.parent.glob("nrun*"))[0]
    assert training_main(["card", "name", *common, "--run-dir", str(run)]) == 0
    card = (tmp_path / "names.md").read_text()
    assert "round trip" in card and "`#7a9e3b`:" in card
    assert (tmp_path / "names_examples.png").stat().st_size > 1000
