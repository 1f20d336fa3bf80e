"""/paint: data and palette, token layout, the painter, cog and CLI, evaluation."""

import asyncio
import io
import json
import subprocess
import sys
from unittest.mock import AsyncMock

import numpy as np
import pytest
from PIL import Image

from bot.discord_app.paint_cog import PaintCog
from bot.errors import InvalidInput
from bot.paint.service import PaintRequest
from bot.paint.tokens import KINDS, context_at, context_kinds, step_inputs
from tests.conftest import paint_train_args
from tests.test_color_cog import fake_interaction
from training.__main__ import main as training_main
from training.errors import UserError
from training.paint.data import fit_palette, load_paintings, quantize


def test_loading_skips_non_images_and_empty_folder_is_an_error(painting_dir, tmp_path):
    paintings = load_paintings(painting_dir, 8)
    assert len(paintings.names) == 16 and paintings.pixels.shape == (16, 8, 8, 3)
    assert paintings.skipped == {"not a readable image": 1}
    with pytest.raises(UserError, match="no readable images"):
        load_paintings(tmp_path, 8)


def test_palette_recovers_the_colours(painting_dir):
    pixels = load_paintings(painting_dir, 32).pixels  # full size: no resampling blur
    palette = fit_palette(pixels, 4)
    assert palette.shape == (4, 3)
    restored = palette[quantize(pixels, palette)]
    assert np.abs(restored.astype(int) - pixels.astype(int)).max() <= 2


def test_step_inputs_previous_neighbours_and_position():
    indices = np.arange(6).reshape(1, 2, 3)  # rows [0 1 2] [3 4 5]
    kinds = ("above", "column", "above_left", "above_right", "row")
    previous, above, column, left, right, row = step_inputs(indices, 9, kinds)
    assert previous.tolist() == [[9, 0, 1, 2, 3, 4]]
    assert above.tolist() == [[9, 9, 9, 0, 1, 2]]
    assert column.tolist() == [[0, 1, 2, 0, 1, 2]]
    assert left.tolist() == [[9, 9, 9, 9, 0, 1]]
    assert right.tolist() == [[9, 9, 9, 1, 2, 9]]
    assert row.tolist() == [[0, 0, 0, 1, 1, 1]]


@pytest.mark.parametrize("kinds", [(), ("above", "column"), KINDS])
def test_painting_sees_the_contexts_it_was_trained_on(kinds):
    """Generation (one pixel at a time) and training (whole streams) agree everywhere."""
    indices = np.random.default_rng(0).integers(0, 5, (1, 4, 4))
    streams = step_inputs(indices, 5, kinds)[1:]
    tokens = indices.reshape(-1).tolist()
    for t in range(16):
        assert context_at(tokens[:t], 4, 5, kinds) == tuple(s[0, t] for s in streams)


def test_files_without_context_kinds_read_as_above_and_column():
    assert context_kinds([{"input": "context_0"}, {"input": "context_1"}]) == ("above", "column")
    assert context_kinds([{"input": "context_0", "kind": "row"}]) == ("row",)
    assert context_kinds([]) == ()


def test_same_seed_same_painting(services):
    first = services.paint.paint(PaintRequest(seed=3))
    second = services.paint.paint(PaintRequest(seed=3))
    other = services.paint.paint(PaintRequest(seed=4, temperature=1.5))
    assert (first.indices == second.indices).all()
    assert first.size == 8 and first.indices.max() < 6
    assert not (first.indices == other.indices).all()
    image = Image.open(io.BytesIO(first.png()))
    assert image.size == (512, 512)


def test_progress_is_reported_by_rows(services):
    seen = []
    services.paint.paint(PaintRequest(seed=1), lambda canvas, rows: seen.append(rows))
    assert seen == [4, 8]


@pytest.mark.parametrize(
    "request_, message",
    [
        (PaintRequest(temperature=0), "temperature must be between 0.1 and 2"),
        (PaintRequest(temperature=5), "temperature must be between 0.1 and 2"),
        (PaintRequest(seed=-1), "seed must be between"),
        (PaintRequest(size=128), "size must be one of: 8"),
    ],
)
def test_bad_requests(services, request_, message):
    with pytest.raises(InvalidInput, match=message):
        services.paint.paint(request_)


def test_cog_defers_and_sends_the_painting(services, monkeypatch):
    import bot.discord_app.paint_cog as paint_cog

    monkeypatch.setattr(paint_cog, "EDIT_INTERVAL", 0.001)
    cog = PaintCog(services.paint)
    interaction = fake_interaction()
    interaction.edit_original_response = AsyncMock()
    asyncio.run(cog.paint.callback(cog, interaction, 5, 1.0, None))
    interaction.response.defer.assert_awaited_once()
    final = interaction.edit_original_response.await_args.kwargs
    (attachment,) = final["attachments"]
    assert attachment.filename == "painting.png"
    assert Image.open(attachment.fp).size == (512, 512)
    assert "seed 5" in final["content"]
    mentions = final["allowed_mentions"]
    assert not (mentions.everyone or mentions.users or mentions.roles)


def test_cog_bad_size_is_refused_before_defer(services):
    cog = PaintCog(services.paint)
    interaction = fake_interaction()
    with pytest.raises(InvalidInput):
        asyncio.run(cog.paint.callback(cog, interaction, None, 1.0, 99))
    interaction.response.defer.assert_not_awaited()


def test_cli_paint_json_is_reproducible(model_dir, tmp_path):
    def run(out):
        argv = [
            sys.executable,
            "-m",
            "bot",
            "--model-dir",
            str(model_dir),
            "--cpu",
            "paint",
            "--seed",
            "1",
            "--temperature",
            "1.0",
            "--out",
            str(out),
            "--json",
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        return json.loads(done.stdout.strip().splitlines()[-1])

    a = run(tmp_path / "a.png")
    run(tmp_path / "b.png")
    assert {"image", "width", "height", "seed", "seconds"} <= set(a)
    assert a["width"] == a["height"] == 8 and a["seed"] == 1
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_previous_only_variant_and_evaluate(painting_dir, tmp_path, capsys):
    from training.paint.train import train_paint

    out = tmp_path / "prev.onnx"
    train_paint(paint_train_args(painting_dir, tmp_path / "run", out, variant="previous"))
    assert (
        training_main(["evaluate", "paint", "--model", str(out), "--data", str(painting_dir)]) == 0
    )
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["n_images"] == 16 and metrics["skipped_files"] == 1
    assert metrics["variant"] == "previous"
    assert 0 < metrics["bits_per_pixel"] < np.log2(7)


def test_concurrent_paintings_share_steps_and_match_alone(services):
    from concurrent.futures import ThreadPoolExecutor

    requests = [PaintRequest(seed=s, temperature=t) for s, t in ((1, 1.0), (2, 0.7), (3, 1.3))]
    alone = [services.paint.paint(r).indices for r in requests]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(lambda r: services.paint.paint(r).indices, requests))
    assert all((a == b).all() for a, b in zip(alone, together, strict=True))


def test_paint_card_scores_every_painter_on_the_same_paintings(model_dir, painting_dir, tmp_path):
    import shutil

    from training.__main__ import main as training_main

    shutil.copy(model_dir / "monet.onnx", tmp_path / "monet.onnx")
    shutil.copy(model_dir / "monet.onnx", tmp_path / "other.onnx")
    run = sorted(model_dir.parent.glob("prun*"))[0]
    argv = ["card", "paint", "--model", str(tmp_path / "monet.onnx"), "--run-dir", str(run)]
    argv += ["--compare", str(tmp_path / "other.onnx"), "--data", str(painting_dir)]
    assert training_main(argv) == 0
    card = (tmp_path / "monet.md").read_text()
    rows = [line for line in card.splitlines() if line.startswith("| this model |")]
    other = [line for line in card.splitlines() if line.startswith("| `other.onnx` |")]
    assert rows and other and rows[0].split("|")[3] == other[0].split("|")[3]  # same file
    assert "| tutorial-style control (earlier) | previous pixel only | 2.766 |" in card
