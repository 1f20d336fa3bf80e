"""Shared fixtures: small data made here and one tiny model trained once per session.

The suite runs on pytest-xdist workers, each test file on one of them (see pyproject.toml),
so a module's fixtures are built once. The tiny models are trained once for all workers,
under a file lock; the files that start Ray take turns, because two local Ray clusters on
one machine would find each other's address."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

# Tests in these files start Ray (or connect to "auto"): they run one after another.
RAY_TEST_FILES = {
    "test_bench_serve_tier.py",
    "test_serve_backend.py",
    "test_serve_nodes.py",
    "test_serve_unreachable.py",
    "test_two_gateways.py",
}


def pytest_collection_modifyitems(config, items) -> None:
    """Orders the files so that one worker starts training the shared models at once while
    the others run the files that do not need them."""
    first = next((i.path for i in items if "model_dir" in i.fixturenames), None)

    def rank(item) -> int:
        return 0 if item.path == first else 2 if "model_dir" in item.fixturenames else 1

    items.sort(key=rank)  # stable: each file keeps its order


@pytest.fixture(scope="module", autouse=True)
def ray_turn(request, tmp_path_factory) -> Iterator[None]:
    """A test file that starts Ray holds the run's Ray lock while it runs."""
    if request.path.name not in RAY_TEST_FILES or "PYTEST_XDIST_WORKER" not in os.environ:
        yield
        return
    with exclusive(tmp_path_factory.getbasetemp().parent / "ray.lock"):
        yield


@contextlib.contextmanager
def exclusive(lock_path: Path, wait: bool = True) -> Iterator[bool]:
    """Holds an advisory lock on `lock_path` (shared by all workers of one run); without
    `wait`, gives False at once when another worker holds it."""
    with open(lock_path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


COLOR_ROWS = [
    ("red", 255, 0, 0),
    ("dark red", 139, 0, 0),
    ("light red", 255, 120, 120),
    ("green", 0, 160, 0),
    ("dark green", 0, 80, 0),
    ("light green", 140, 240, 140),
    ("blue", 0, 0, 255),
    ("dark blue", 0, 0, 120),
    ("light blue", 150, 180, 255),
    ("forest", 34, 139, 34),
    ("sky", 135, 206, 235),
    ("snow", 250, 250, 250),
    ("coal", 20, 20, 20),
    ("grass", 80, 200, 60),
    ("ocean", 0, 90, 160),
    ("blood", 140, 10, 10),
    ("lavender", 180, 160, 230),
    ("mustard", 220, 180, 40),
    ("sand", 220, 200, 150),
    ("night", 10, 10, 40),
    ("rose", 240, 120, 160),
    ("lime", 180, 255, 0),
    ("plum", 120, 40, 100),
    ("rust", 180, 70, 20),
]


class Clock:
    """The time a bot sees (its injected clock); a test moves it by setting `now`."""

    def __init__(self, now) -> None:
        self.now = now

    def __call__(self):
        return self.now


def write_color_csv(path: Path, rows=COLOR_ROWS) -> Path:
    lines = ["name,red,green,blue"] + [f"{n},{r},{g},{b}" for n, r, g, b in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def color_csv(tmp_path_factory) -> Path:
    return write_color_csv(tmp_path_factory.mktemp("data") / "colors.csv")


def make_text(n_lines: int = 300) -> str:
    """A small, learnable corpus: short sentences from a few words."""
    import random

    rng = random.Random(0)
    subjects = ["the cat", "a dog", "my friend", "the king", "our queen"]
    verbs = ["sees", "loves", "fears", "finds", "keeps"]
    objects = ["the moon.", "a rose.", "the sea!", "his crown.", "her book?"]
    return "".join(
        f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}\n"
        for _ in range(n_lines)
    )


@pytest.fixture(scope="session")
def text_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("text") / "tiny.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


def write_train_args(text_file: Path, run_dir: Path, out: Path | None, epochs: int = 2):
    from training.__main__ import build_parser

    argv = [
        "train",
        "write",
        "--data",
        str(text_file),
        "--style",
        "tiny",
        "--units",
        "16",
        "--embedding",
        "8",
        "--epochs",
        str(epochs),
        "--batch-size",
        "16",
        "--seq-len",
        "32",
        "--val-chunk",
        "500",
        "--sample-length",
        "20",
        "--run-dir",
        str(run_dir),
    ]
    return build_parser().parse_args(argv + (["--out", str(out)] if out else []))


CAPTION_COLORS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
CAPTION_TEMPLATES = ("a {} square", "the picture is {}", "a plain {} image")


def png_bytes(rgb, size=(24, 24), fmt="PNG") -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, rgb).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def caption_data(tmp_path_factory) -> tuple[Path, Path]:
    """Solid-colour images captioned with their colour: an image model can learn it."""
    folder = tmp_path_factory.mktemp("captions")
    images = folder / "images"
    images.mkdir()
    rows = ["image,caption"]
    for i in range(30):
        name, rgb = list(CAPTION_COLORS.items())[i % 3]
        (images / f"img{i}.png").write_bytes(png_bytes(rgb))
        for template in CAPTION_TEMPLATES:
            rows.append(f"img{i}.png,{template.format(name).capitalize()} .")
    csv_path = folder / "captions.csv"
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return csv_path, images


BACKBONE_SIZE = 224  # the real backbone's input: (1, 224, 224, 3) uint8


def _he_normal(rng, *shape: int):
    """Seeded random weights scaled for ReLU, so the activations neither vanish nor blow up."""
    import numpy as np
    import tensorflow as tf

    scale = np.sqrt(2 / np.prod(shape[:-1]))
    return tf.constant(rng.normal(0.0, scale, shape).astype(np.float32))


def _tiny_forward(rng):
    """MobileNetV2's shape in four convolutions: strided convolutions down to 7 x 7, a 1 x 1
    expansion to 1,280 ReLU6 units, the one average pool, 1 x 1 logits, Reshape, Softmax."""
    import numpy as np
    import tensorflow as tf

    stem, mixer = _he_normal(rng, 8, 8, 3, 16), _he_normal(rng, 4, 4, 16, 32)
    expand, classify = _he_normal(rng, 1, 1, 32, 1280), _he_normal(rng, 1, 1, 1280, 1001)
    bias = tf.constant(np.full(1280, 0.5, np.float32))  # keeps most pooled units alive
    spec = tf.TensorSpec([1, BACKBONE_SIZE, BACKBONE_SIZE, 3], tf.float32)

    @tf.function(input_signature=[spec])
    def forward(image):
        x = tf.nn.relu6(tf.nn.conv2d(image, stem, 8, "VALID"))  # 28 x 28
        x = tf.nn.relu6(tf.nn.conv2d(x, mixer, 4, "VALID"))  # 7 x 7
        x = tf.nn.relu6(tf.nn.conv2d(x, expand, 1, "VALID") + bias)
        pooled = tf.nn.avg_pool2d(x, 7, 1, "VALID")  # (1, 1, 1, 1280)
        logits = tf.reshape(tf.nn.conv2d(pooled, classify, 1, "VALID"), [1, 1001])
        return tf.nn.softmax(logits)

    return forward


def _calibration_images(rng, count: int = 8):
    """What the 8-bit converter measures ranges on: noise and plain colours, scaled like
    MobileNetV2's input ([-1, 1]), so the uint8 input gets its (1/128, 128) quantisation."""
    import numpy as np

    shape = (1, BACKBONE_SIZE, BACKBONE_SIZE, 3)
    for i in range(count):
        noise = rng.integers(0, 256, shape)
        plain = np.broadcast_to(rng.integers(0, 256, (1, 1, 1, 3)), shape)
        yield [((noise if i % 2 else plain).astype(np.float32) - 128) / 128]


def write_tiny_backbone(path: Path) -> Path:
    """A stand-in for the MobileNetV2 .tflite with the same interface, so the image path is
    tested without the download: an 8-bit TFLite graph at batch 1, uint8 (1, 224, 224, 3)
    in, uint8 (1, 1001) softmax out, 1,280 pooled activations before the classifier. It is
    random (seeded), not trained: plain colours still give distinct features, which is all
    the caption tests need, and it converts to ONNX in about a second, not tens."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    forward = _tiny_forward(rng)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [forward.get_concrete_function()], forward
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: _calibration_images(rng)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    """The image path's backbone in tests (the real one is a separate download)."""
    return write_tiny_backbone(tmp_path_factory.mktemp("backbone") / "tiny_backbone.tflite")


def concept_lm_captions(folder: Path) -> Path:
    """Captions of other (absent) images, for the concept language model to learn from."""
    rows = ["image,caption"]
    for i in range(60):
        name = list(CAPTION_COLORS)[i % 3]
        rows += [f"text{i}.png,{t.format(name)}" for t in CAPTION_TEMPLATES]
    path = folder / "lm_captions.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def tiny_lm_args(*words: str) -> list[str]:
    return ["--units", "16", "--embedding", "8", "--batch-size", "16", "--val-fraction", "0.2",
            *words]  # fmt: skip


def train_plain_caption_lm(csv_path: Path, run_dir: Path, out: Path | None = None) -> None:
    from training.__main__ import build_parser
    from training.caption.train import train_caption

    argv = ["train", "caption", "--data", str(csv_path), "--epochs", "2", "--run-dir", str(run_dir)]
    argv += tiny_lm_args("--sample-length", "20") + (["--out", str(out)] if out else [])
    train_caption(build_parser().parse_args(argv))


def train_image_captioner(
    caption_data, backbone: Path, lm_run: Path, run_dir: Path, out: Path, *options: str
) -> None:
    from training.__main__ import build_parser
    from training.caption.image_train import train_caption_image

    csv_path, images = caption_data
    argv = ["train", "caption-image", "--decoder-run", str(lm_run), "--captions", str(csv_path)]
    argv += ["--images", str(images), "--backbone", str(backbone)]
    argv += ["--batch-size", "16", "--learning-rate", "1e-2"]
    argv += ["--val-fraction", "0.2", "--run-dir", str(run_dir), "--out", str(out), *options]
    train_caption_image(build_parser().parse_args(argv))


def train_captioner(caption_data, backbone: Path, out_dir: Path, run_root: Path) -> None:
    """The shipped shape: a plain caption LM (no image), and the concept captioner."""
    from training.__main__ import build_parser
    from training.caption.concept_lm import train_caption_concepts

    csv_path, _ = caption_data
    train_plain_caption_lm(csv_path, run_root / "lm", out_dir / "captions.onnx")
    concept_run = run_root / "concept_lm"
    argv = ["train", "caption-concepts", "--data", str(concept_lm_captions(run_root))]
    argv += ["--exclude-images", str(csv_path), "--epochs", "6", "--learning-rate", "1e-2"]
    argv += ["--concepts", "20", "--run-dir", str(concept_run)]
    train_caption_concepts(build_parser().parse_args(argv + tiny_lm_args()))
    train_image_captioner(
        caption_data,
        backbone,
        concept_run,
        run_root / "image",
        out_dir / "captions_encoder.onnx",
        "--condition",
        "concepts",
        "--epochs",
        "3",
    )


@pytest.fixture(scope="session")
def painting_dir(tmp_path_factory) -> Path:
    """Sixteen small 'paintings': horizontal bands of a few colours, plus one junk file."""
    import numpy as np
    from PIL import Image

    folder = tmp_path_factory.mktemp("paintings")
    rng = np.random.default_rng(0)
    colors = np.array([[30, 60, 140], [200, 180, 90], [60, 140, 70], [230, 230, 240]])
    for i in range(16):
        rows = colors[rng.integers(0, 4, size=4)].repeat(8, axis=0)  # 4 bands of 8 rows
        image = np.broadcast_to(rows[:, None, :], (32, 32, 3)).astype(np.uint8)
        Image.fromarray(image).save(folder / f"p{i:02d}.png")
    (folder / "readme.txt").write_text("not an image", encoding="utf-8")
    return folder


def paint_train_args(painting_dir: Path, run_dir: Path, out: Path | None, variant="above"):
    from training.__main__ import build_parser

    argv = [
        "train",
        "paint",
        "--data",
        str(painting_dir),
        "--size",
        "8",
        "--colors",
        "6",
        "--seq-len",
        "32",
        "--units",
        "16",
        "--embedding",
        "8",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--variant",
        variant,
        "--run-dir",
        str(run_dir),
    ]
    return build_parser().parse_args(argv + (["--out", str(out)] if out else []))


@pytest.fixture(scope="session")
def model_dir(
    tmp_path_factory, color_csv, text_file, caption_data, painting_dir, tiny_backbone
) -> Path:
    """A model directory with tiny colour, writing ("tiny"), caption, painting and naming
    models (the image encoder on the tiny backbone, so nothing outside the repository is
    needed). Their runs lie beside it (`wrun*`, `crun*`, `prun*`, `nrun*`, `run*`), where
    tests find their logs and checkpoints. Under xdist, workers share one folder: each
    model is trained by the first worker free to take it, and the others wait for it."""
    data = (color_csv, text_file, caption_data, painting_dir, tiny_backbone)
    if "PYTEST_XDIST_WORKER" not in os.environ:
        out_dir = tmp_path_factory.mktemp("models")
        for part in TINY_MODELS:
            part(out_dir, *data)
        return out_dir
    out_dir = tmp_path_factory.getbasetemp().parent / "models"
    out_dir.mkdir(exist_ok=True)
    for wait in (False, True):  # first take what no one has taken; then wait for the rest
        for part in TINY_MODELS:
            done = out_dir.parent / f"{part.__name__}.done"
            with exclusive(out_dir.parent / f"{part.__name__}.lock", wait) as mine:
                if mine and not done.exists():
                    part(out_dir, *data)
                    done.touch()
    return out_dir


def run_beside(out_dir: Path, prefix: str) -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))


def tiny_captioner(out_dir: Path, color_csv, text_file, caption_data, painting_dir, backbone):
    train_captioner(caption_data, backbone, out_dir, run_beside(out_dir, "crun"))


def tiny_writer(out_dir: Path, color_csv, text_file, caption_data, painting_dir, backbone):
    from training.write import train_write

    train_write(write_train_args(text_file, run_beside(out_dir, "wrun"), out_dir / "tiny.onnx"))


def tiny_namer(out_dir: Path, color_csv, text_file, caption_data, painting_dir, backbone):
    train_tiny_namer(color_csv, run_beside(out_dir, "nrun"), out_dir / "names.onnx")


def tiny_painter(out_dir: Path, color_csv, text_file, caption_data, painting_dir, backbone):
    from training.paint.train import train_paint

    run = run_beside(out_dir, "prun")
    train_paint(paint_train_args(painting_dir, run, out_dir / "monet.onnx"))


def tiny_colour(out_dir: Path, color_csv, text_file, caption_data, painting_dir, backbone):
    from training.color.train import train_color

    args = argparse.Namespace(
        data=[color_csv],
        train_only=[],
        variant="tiny",
        epochs=2,
        batch_size=8,
        patience=2,
        val_fraction=0.25,
        seed=1,
        run_dir=run_beside(out_dir, "run"),
        out=out_dir / "color.onnx",
        verbose=False,
    )
    train_color(args)


# The longest first, so that two workers finish at about the same time.
TINY_MODELS = (tiny_captioner, tiny_writer, tiny_namer, tiny_painter, tiny_colour)


def train_tiny_namer(color_csv: Path, run_dir: Path, out: Path) -> None:
    from training.__main__ import build_parser
    from training.name.train import train_name

    argv = ["train", "name", "--data", str(color_csv), "--units", "16", "--embedding", "8"]
    argv += ["--epochs", "2", "--batch-size", "8", "--val-fraction", "0.25"]
    train_name(build_parser().parse_args([*argv, "--run-dir", str(run_dir), "--out", str(out)]))


@pytest.fixture()
def services(model_dir):
    from bot.config import Settings
    from bot.services import Services

    services = Services.start(Settings(model_dir=model_dir, prefer_gpu=False))
    yield services
    services.close(grace=1.0)


@pytest.fixture()
def slow_steps(monkeypatch):
    """Every step call takes at least 5 ms, so a long generation runs for seconds."""
    import time

    from bot.runtime.lm import StepGraph

    real = StepGraph.__call__

    def slow(self, *args, **kwargs):
        time.sleep(0.005)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(StepGraph, "__call__", slow)
