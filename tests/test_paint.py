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

from bot.contract.pixels import KINDS, context_at, context_kinds, step_inputs, step_targets
from bot.discord_app.cogs.paint import PaintCog
from bot.errors import InvalidInput
from bot.paint.service import CANVAS, PaintRequest, render_png
from tests.conftest import paint_train_args
from tests.test_color_cog import fake_interaction
from training.__main__ import main as training_main
from training.errors import UserError
from training.paint.data import fit_palette, load_paintings, quantize, thumbnails


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


def test_a_thumbnail_is_painted_first_and_seen_by_every_pixel_after():
    indices = np.random.default_rng(1).integers(0, 5, (2, 4, 4))
    thumbnail = np.array([[[0, 1], [2, 3]], [[4, 4], [0, 1]]])
    streams = step_inputs(indices, 5, KINDS, thumbnail)
    targets = step_targets(indices, thumbnail)
    assert targets.shape == (2, 4 + 16) and (targets[:, :4] == thumbnail.reshape(2, 4)).all()
    for n in range(2):
        tokens = targets[n].tolist()
        for t in range(len(tokens)):
            assert streams[0][n, t] == (tokens[t - 1] if t else 5)
            contexts = context_at(tokens[:t], 4, 5, KINDS, grid=2)
            assert contexts == tuple(s[n, t] for s in streams[1:])
    by_kind = dict(zip(KINDS, streams[1:], strict=True))
    # The thumbnail's cells sit at their blocks' centres and see no thumbnail yet...
    assert by_kind["row"][0, :4].tolist() == [1, 1, 3, 3]
    assert by_kind["coarse"][0, :4].tolist() == [5] * 4
    # ...then the pixel at row 1, column 2 sees cell (0, 1), none right of it, (1, 1) below.
    at = 4 + 1 * 4 + 2
    assert [by_kind[k][0, at] for k in ("coarse", "coarse_right", "coarse_below")] == [1, 5, 3]


def test_thumbnail_cells_are_the_blocks_mean_colours():
    palette = np.array([[0, 0, 0], [255, 255, 255], [128, 128, 128]], np.uint8)
    image = np.zeros((1, 4, 4, 3), np.uint8)
    image[0, :2, :2] = 255  # white block
    image[0, 2:, 2:] = [[255, 255, 255], [0, 0, 0]]  # half white: grey
    assert thumbnails(image, palette, 2).tolist() == [[[1, 0], [0, 2]]]
    with pytest.raises(UserError, match="must divide"):
        thumbnails(image, palette, 3)


def test_mirrored_paintings_are_added_flipped_left_to_right():
    from training.paint.train import mirrored

    pixels = np.arange(2 * 2 * 3 * 3).reshape(2, 2, 3, 3)
    both = mirrored(pixels)
    assert len(both) == 4 and (both[:2] == pixels).all()
    assert (both[2, :, 0] == pixels[0, :, 2]).all()


def test_unpainted_canvas_is_linen():
    palette = np.array([[200, 0, 0]], np.uint8)
    indices = np.repeat([[0], [1]], 8, axis=0).repeat(16, axis=1)  # lower half: index K
    image = np.asarray(Image.open(io.BytesIO(render_png(indices, palette, display=64)))).astype(int)
    assert np.abs(image[-1, 32] - CANVAS).max() <= 2
    assert np.abs(image[0, 32] - (200, 0, 0)).max() <= 2


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
    import bot.discord_app.cogs.paint as paint_cog

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
    assert "earlier" not in card  # every row is measured here, none is copied from the past


@pytest.fixture(scope="module")
def thumbnail_painter(painting_dir, tmp_path_factory):
    """A tiny painter that sketches a 4x4 thumbnail (2x2-pixel blocks) first."""
    from training.paint.train import train_paint

    folder = tmp_path_factory.mktemp("thumbnail_painter")
    args = paint_train_args(painting_dir, folder / "run", folder / "monet.onnx", "thumbnail")
    args.thumbnail, args.seq_len, args.units = 4, 40, 32
    args.epochs, args.patience, args.learning_rate = 30, 30, 1e-2
    train_paint(args)
    return folder / "monet.onnx"


def test_a_thumbnail_painter_paints_what_its_thumbnail_says(thumbnail_painter, painting_dir):
    """The bands of each painting follow the thumbnail it drew first: measured against
    another painting's thumbnail, which a painter ignoring its own would match as well."""
    from bot.paint.service import PaintService
    from bot.runtime.batching import BatcherPool
    from bot.runtime.engine import InferenceEngine

    engine = InferenceEngine(thumbnail_painter.parent, prefer_gpu=False)
    engine.load_all()
    service = PaintService(engine, BatcherPool())
    seen = []
    jobs = [
        service.submit(PaintRequest(seed=s), lambda c, r: seen.append((c.copy(), r)))
        for s in range(8)
    ]
    paintings = np.stack([job.result().indices for job in jobs])
    sketches = np.stack([job.generation.tokens[:16] for job in jobs]).reshape(8, 4, 4)
    blocks = np.kron(sketches, np.ones((2, 2), int))  # each cell over its 2x2 block
    own = (paintings == blocks).mean()
    other = (paintings == np.roll(blocks, 1, axis=0)).mean()
    # The data's own pixels match their thumbnail 88% of the time, another's 23%.
    assert own > 0.7 and own > other + 0.3, (own, other)
    # Each painting's first report, before any row, shows its thumbnail as underpainting.
    first = [canvas for canvas, rows in seen if rows == 0]
    assert len(first) == 8
    assert sorted(c.tobytes() for c in first) == sorted(
        b.astype(np.int32).tobytes() for b in blocks
    )
    assert paintings.shape == (8, 8, 8) and paintings.max() < 6


def test_a_thumbnail_painter_is_scored_with_its_thumbnail(thumbnail_painter, painting_dir):
    from training.paint.evaluate import evaluate_paint, painting_nats
    from training.tokenlm.evaluate import load_step_model

    metrics = evaluate_paint(thumbnail_painter, painting_dir)
    assert metrics["variant"] == "thumbnail" and metrics["pixels"] == 16 * 64
    assert 0 < metrics["thumbnail_bits_per_pixel"] < metrics["bits_per_pixel"] < np.log2(7)
    # The thumbnail's nats are the first 16 steps' of the step graph, paid on top.
    graph = load_step_model(thumbnail_painter)
    pixels = load_paintings(painting_dir, 8).pixels
    nats = painting_nats(graph, pixels)
    painting_only = nats["painting"] / pixels[..., 0].size / np.log(2)
    assert metrics["bits_per_pixel"] - painting_only == pytest.approx(
        metrics["thumbnail_bits_per_pixel"], abs=2e-4
    )


def test_a_painter_grows_new_context_inputs_from_one_without_them(tmp_path):
    """`--init-weights` from a painter with fewer contexts: the grown model answers as
    the old one did until training teaches it the new inputs."""
    from training.tokenlm.model import LMConfig, build_train_model
    from training.tokenlm.train import BEST_WEIGHTS, CONFIG_FILE, start_from

    base = LMConfig(vocab_size=7, embedding=4, units=8, layers=2, dropout=0.0, contexts=(7, 8))
    grown = LMConfig(**{**base.as_dict(), "contexts": (7, 8, 7, 7)})
    old = build_train_model(base)
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"config": base.as_dict()}))
    old.save_weights(tmp_path / BEST_WEIGHTS)
    new = build_train_model(grown)
    start_from(new, tmp_path / BEST_WEIGHTS, grown)
    rng = np.random.default_rng(0)
    tokens, above, column = (rng.integers(0, 7, (3, 10)) for _ in range(3))
    coarse = [rng.integers(0, 7, (3, 10)) for _ in range(2)]
    expected = old.predict([tokens, above, column], verbose=0)
    assert np.allclose(
        new.predict([tokens, above, column, *coarse], verbose=0), expected, atol=1e-5
    )
    other = LMConfig(**{**grown.as_dict(), "units": 16})
    with pytest.raises(UserError, match="does not fit"):
        start_from(build_train_model(other), tmp_path / BEST_WEIGHTS, other)
