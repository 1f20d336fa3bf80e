import io

import pytest
from PIL import Image

from bot.errors import InvalidInput
from bot.render import contrasting_text_color


def test_known_name_returns_real_colour(services):
    result = services.color.color("  FOREST ")
    assert result.source == "known"
    assert result.rgb == (34, 139, 34)
    assert result.hex == "#228b22"


def test_unknown_name_is_predicted(services):
    result = services.color.color("dark forest")
    assert result.source == "model"
    assert all(0 <= c <= 255 for c in result.rgb)
    forced = services.color.color("forest", model_only=True)
    assert forced.source == "model"


def test_swatch_png(services):
    result = services.color.color("sky")
    image = Image.open(io.BytesIO(services.color.render(result)))
    assert image.format == "PNG" and image.size == (512, 256)
    assert image.convert("RGB").getpixel((500, 128)) == result.rgb


def test_text_contrasts_with_swatch():
    assert contrasting_text_color((250, 250, 250)) == (0, 0, 0)
    assert contrasting_text_color((10, 10, 40)) == (255, 255, 255)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "Give a colour name"),
        ("   ", "Give a colour name"),
        ("x" * 10_000, "10,000 characters"),
        ("🌲🌊", "None of those characters"),
        ("\u05d9\u05e8\u05d5\u05e7", "None of those characters"),  # Hebrew, right-to-left
        ("\x00\x07\x1b", "None of those characters"),
    ],
)
def test_bad_inputs_get_clear_errors(services, text, message):
    with pytest.raises(InvalidInput, match=message):
        services.color.color(text)


@pytest.mark.parametrize("text", ["@everyone", "forest 🌲", "re\u200bd", "\u202eder", "<@123> red"])
def test_odd_characters_are_dropped_with_a_note(services, text):
    result = services.color.color(text)
    assert "@" not in result.name and "<" not in result.name
    assert result.notes and result.notes[0].startswith("Ignored characters")


def test_long_name_is_truncated_with_a_note(services):
    result = services.color.color("red " * 20)
    assert len(result.name) <= 32
    assert any("first 32 characters" in n for n in result.notes)


def test_autocomplete_suggests_known_names(services):
    assert services.color.suggest("dark") == ["dark blue", "dark green", "dark red"]
    assert services.color.suggest("zzz") == []
