"""/caption: tokens, stopping, prefixes, the image path, attachment checks, cog and CLI."""

import asyncio
import io
import json
import struct
import subprocess
import sys
import zlib
from unittest.mock import AsyncMock, MagicMock

import numpy as np
import pytest
from PIL import Image

from bot.caption.service import CaptionRequest
from bot.discord_app.cogs.caption import CaptionCog
from bot.errors import InvalidInput
from bot.images import open_image
from bot.runtime.lm import beam_search
from bot.text.captions import END, START, normalize_caption, repeats_itself
from tests.conftest import CAPTION_COLORS, png_bytes
from tests.test_color_cog import fake_interaction
from training.__main__ import main as training_main
from training.caption.data import caption_examples, caption_vocabulary, load_captions, split


def test_normalisation_policy():
    assert normalize_caption("A Dog, running  on the beach .") == "a dog, running on the beach"
    assert normalize_caption('"Hi!" (she said) #1') == "hi she said 1"
    assert START not in normalize_caption(f"{START}a{END}")


def test_examples_start_with_start_and_end_with_end(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("A cat sits.\nA dog runs on grass\n", encoding="utf-8")
    data = load_captions([path])
    vocab = caption_vocabulary(data.captions)
    ex = caption_examples(vocab, ["a cat"])
    start, end = vocab.encode(START).ids[0], vocab.encode(END).ids[0]
    assert ex.x[0, 0] == start and vocab.decode(ex.x[0, 1:6]) == "a cat"
    assert vocab.decode(ex.y[0, :5]) == "a cat" and ex.y[0, 5] == end
    assert ex.weights[0].sum() == 6 and ex.weights[0, 6:].sum() == 0


def test_split_is_by_image(caption_data):
    data = load_captions([caption_data[0]])
    train, val = split(data.captions, 0.2)
    assert {c.key for c in train}.isdisjoint({c.key for c in val})
    assert len(train) + len(val) == len(data.captions) == 90


def test_captions_never_contain_tokens_and_keep_the_prefix(services):
    result = services.caption.caption(CaptionRequest("The picture", count=5, seed=3))
    assert len(result.captions) == 5
    for caption in result.captions:
        assert START not in caption and END not in caption
        assert caption.startswith("the picture")
        assert len(caption) <= 120
    again = services.caption.caption(CaptionRequest("The picture", count=5, seed=3))
    assert again.captions == result.captions


def fake_step(vocab_size=6, end=5):
    """Always prefers token (last + 1); END (5) after token 4."""

    def step(tokens, state):
        logits = np.full((len(tokens), vocab_size), -5.0)
        logits[np.arange(len(tokens)), np.minimum(tokens + 1, end)] = 5.0
        return logits, state

    return step


def test_beam_search_stops_at_end_token():
    found = beam_search(fake_step(), [np.zeros((1, 2))], [1], 50, width=3, end_token=5)
    tokens, score = found[0]
    assert tokens == [2, 3, 4] and score < 0


@pytest.mark.parametrize(
    ("text", "loops"),
    [
        ("a dog dog runs", True),
        ("a dog runs and a dog jumps", True),
        ("a man in a red shirt and a woman in a hat", False),
        ("two dogs play in the snow in the snow", True),
        ("a black dog and a white dog", False),
        ("a dog runs through the water", False),
    ],
)
def test_repetition_guard(text, loops):
    assert repeats_itself(text) is loops


def looping_step(vocab_size=6, end=5):
    """Prefers 1, 2, 1, 2, ... forever (END second best after 2)."""

    def step(tokens, state):
        logits = np.full((len(tokens), vocab_size), -9.0)
        nxt = np.where(tokens == 1, 2, 1)
        logits[np.arange(len(tokens)), nxt] = 5.0
        logits[tokens == 2, end] = 3.0
        return logits, state

    return step


def test_beam_search_drops_rejected_candidates():
    plain = beam_search(looping_step(), [np.zeros((1, 2))], [0], 6, width=2, end_token=5)
    assert plain[0][0].count(2) > 1  # without the guard the loop wins
    guarded = beam_search(
        looping_step(),
        [np.zeros((1, 2))],
        [0],
        6,
        width=2,
        end_token=5,
        reject=lambda tokens: tokens.count(2) > 1,
    )
    assert guarded[0][0] == [1, 2]  # the only candidate the guard lets finish


def test_image_caption_with_tiny_encoder(services):
    image = png_bytes(CAPTION_COLORS["red"], size=(40, 30))
    result = services.caption.caption(CaptionRequest(image=image, count=2))
    assert result.conditioned and result.method == "beam search (width 3)"
    assert len(result.captions) == 2 and all(result.captions)
    sampled = services.caption.caption(CaptionRequest(image=image, count=2, seed=1, beam_width=0))
    assert sampled.method == "sampling" and len(sampled.captions) == 2


def png_with_size(width: int, height: int) -> bytes:
    """A valid PNG header claiming a huge size (a decompression bomb), data truncated."""
    data = png_bytes((0, 0, 0), size=(1, 1))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]
    )


@pytest.mark.parametrize(
    "data, message",
    [
        (b"hello, this is text", "not a readable image"),
        (b"", "empty"),
        (png_bytes((1, 2, 3), fmt="JPEG")[:200], "truncated"),
        (b"\0" * (8 * 1024 * 1024 + 1), "images up to 8 MB"),
        (png_with_size(30000, 30000), "too many pixels"),
    ],
)
def test_bad_images_are_rejected(data, message):
    with pytest.raises(InvalidInput, match=message):
        open_image(data)


def test_other_formats_and_gif_first_frame():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (255, 0, 0)).save(buffer, format="BMP")
    with pytest.raises(InvalidInput, match="BMP files are not supported"):
        open_image(buffer.getvalue())
    frames = [Image.new("RGB", (8, 8), c) for c in ((0, 0, 255), (255, 0, 0))]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    first = open_image(gif.getvalue())
    assert first.getpixel((0, 0))[2] > 200  # blue: the first frame
    assert open_image(png_bytes((1, 2, 3), fmt="WEBP")).size == (24, 24)


def attachment(data: bytes, content_type: str = "image/png", size: int | None = None):
    mock = MagicMock()
    mock.size = len(data) if size is None else size
    mock.content_type = content_type
    mock.read = AsyncMock(return_value=data)
    mock.url = "https://cdn.example/img.png"
    return mock


def test_cog_captions_an_attachment(services):
    cog = CaptionCog(services.caption)
    interaction = fake_interaction()
    image = attachment(png_bytes(CAPTION_COLORS["blue"]))
    asyncio.run(cog.caption.callback(cog, interaction, image, "", 1, 0.7, 1))
    interaction.response.defer.assert_awaited_once()
    embed = interaction.followup.send.await_args.kwargs["embed"]
    assert embed.title == "Caption for your image"
    assert embed.description.startswith("1. ")
    assert embed.thumbnail.url == "https://cdn.example/img.png"
    mentions = interaction.followup.send.await_args.kwargs["allowed_mentions"]
    assert not (mentions.everyone or mentions.users or mentions.roles)


@pytest.mark.parametrize(
    "item, message",
    [
        (attachment(b"PK\x03\x04", "application/zip"), "Please attach an image"),
        (attachment(b"x", "image/png", size=9 * 1024 * 1024), "images up to 8 MB"),
    ],
)
def test_cog_rejects_bad_attachments_before_deferring(services, item, message):
    cog = CaptionCog(services.caption)
    interaction = fake_interaction()
    with pytest.raises(InvalidInput, match=message):
        asyncio.run(cog.caption.callback(cog, interaction, item, "", 1, 0.7, None))
    interaction.response.defer.assert_not_awaited()
    item.read.assert_not_awaited()


def test_cog_truncated_image_fails_after_defer_with_clear_error(services):
    cog = CaptionCog(services.caption)
    item = attachment(png_bytes((1, 2, 3), fmt="JPEG")[:150], "image/jpeg")
    with pytest.raises(InvalidInput, match="truncated"):
        asyncio.run(cog.caption.callback(cog, fake_interaction(), item, "", 1, 0.7, None))


def test_cog_without_image(services):
    cog = CaptionCog(services.caption)
    interaction = fake_interaction()
    asyncio.run(cog.caption.callback(cog, interaction, None, "a", 3, 0.7, 5))
    embed = interaction.followup.send.await_args.kwargs["embed"]
    assert embed.title == "Captions" and embed.description.count("\n") == 2


def run_bot(model_dir, *args):
    argv = [sys.executable, "-m", "bot", "--model-dir", str(model_dir), "--cpu", "caption", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_cli_caption_json(model_dir, caption_data):
    done = run_bot(model_dir, "--count", "2", "--seed", "4", "--json")
    payload = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(payload["captions"]) == 2 and all(isinstance(c, str) for c in payload["captions"])
    image = caption_data[1] / "img0.png"
    done = run_bot(model_dir, "--image", str(image), "--json")
    assert json.loads(done.stdout)["image"] == str(image)
    done = run_bot(model_dir, "--image", "/nonexistent.png", "--json")
    assert done.returncode == 2 and "cannot read" in json.loads(done.stdout)["error"]


def test_evaluate_caption_with_and_without_images(model_dir, caption_data, capsys):
    csv_path, images = caption_data
    model = str(model_dir / "captions.onnx")
    assert training_main(["evaluate", "caption", "--model", model, "--data", str(csv_path)]) == 0
    plain = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert plain["n_captions"] == 90 and plain["nats_per_char"] > 0
    assert plain["bits_per_char"] == pytest.approx(plain["nats_per_char"] / np.log(2), abs=1e-3)
    decoder = str(model_dir / "captions_image_decoder.onnx")
    assert training_main(["evaluate", "caption", "--model", decoder, "--data", str(csv_path)]) == 0
    no_image = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    encoder = str(model_dir / "captions_encoder.onnx")
    argv = ["evaluate", "caption", "--model", decoder, "--encoder", encoder, "--data"]
    argv += [str(csv_path), "--images", str(images)]
    # An encoder whose outputs the decoder does not read is refused, not silently ignored.
    assert training_main([*argv[:3], model, *argv[4:]]) == 2
    assert "captions_encoder.onnx sets image_in" in capsys.readouterr().err
    assert training_main(argv) == 0
    both = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert both["nats_per_char_unconditional"] == no_image["nats_per_char"]
    assert both["nats_per_char"] > 0
    assert both["n_images"] == 30 and both["retrieval_images"] == 30
    assert both["retrieval_chance"] == pytest.approx(1 / 30, abs=1e-4)
    # The picture matters, even to the tiny captioner (its captions name the colour). Ten
    # images share each colour and tie, so retrieval says little here (at most 3 of 30).
    assert 0 <= both["retrieval_rate"] <= 0.1
    assert both["own_image_below_other_image"] > 0
    assert both["nats_per_char"] < both["nats_per_char_grey_image"]
    assert both["nats_per_char_other_image"] > 0 and both["nats_per_char_grey_image"] > 0
    expected = (both["nats_per_char_other_image"] - both["nats_per_char"]) / both[
        "nats_per_char_other_image"
    ]
    assert both["own_image_below_other_image"] == pytest.approx(expected, abs=1e-3)
    assert training_main([*argv, "--held-out", "--val-fraction", "0.2"]) == 0
    held_out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 2 <= held_out["n_images"] < 30 and held_out["n_captions"] == 3 * held_out["n_images"]


def test_retrieval_pairs_every_caption_with_every_image(monkeypatch):
    import training.caption.evaluate as evaluate

    def totals(graph, texts, states):
        # Caption "c<i>" is likeliest under image i: its loss grows with the distance.
        images = states[0][:, 0]
        captions = np.array([int(t[1:]) for t in texts])
        return np.abs(captions - images).astype(float), np.ones(len(texts))

    monkeypatch.setattr(evaluate, "caption_totals", totals)
    states = [np.arange(7, dtype=float)[:, None]]
    assert evaluate.retrieval_rate(None, [f"c{i}" for i in range(7)], states) == 1.0
    shuffled = [f"c{i}" for i in (1, 0, 2, 3, 4, 5, 6)]
    assert evaluate.retrieval_rate(None, shuffled, states) == pytest.approx(5 / 7)


def test_a_narrow_beam_says_how_many_captions_it_can_give(services):
    image = png_bytes(CAPTION_COLORS["red"])
    result = services.caption.caption(CaptionRequest(image=image, count=5, beam_width=1))
    assert len(result.captions) == 1
    assert any("at most 1 caption;" in note for note in result.notes)


def test_encoder_outputs_fill_only_the_state_they_name():
    """An image fed at every step sets `image_in`; the LSTM state starts at zero."""
    from types import SimpleNamespace

    from bot.caption.encoder import encode_pixels
    from bot.runtime.lm import StepGraph

    layout = [
        {"input": "h0_in", "output": "h0_out", "size": 3},
        {"input": "c0_in", "output": "c0_out", "size": 3},
        {"input": "image_in", "output": "image_out", "size": 2},
    ]
    graph = StepGraph(SimpleNamespace(metadata=SimpleNamespace(extra={"state": layout})))
    encoder = SimpleNamespace(
        metadata=SimpleNamespace(
            extra={"state": [{"output": "image_init", "decoder_input": "image_in", "size": 2}]}
        ),
        run=lambda feeds: {"image_init": feeds["image"][:, 0, 0, :2].astype(np.float32)},
    )
    pixels = np.zeros((40, 4, 4, 3), np.uint8)
    pixels[:, 0, 0, 0] = np.arange(40)  # more than one encoder batch
    h, c, image = encode_pixels(encoder, graph, pixels)
    assert h.shape == c.shape == (40, 3) and not h.any() and not c.any()
    assert image.shape == (40, 2) and (image[:, 0] == np.arange(40)).all()
