"""The models in exported_models/ load through the engine and answer every command once:
a broken or mismatched shipped file fails here, not in front of a user."""

from pathlib import Path

import pytest

from bot.caption.service import CaptionRequest
from bot.config import DEFAULT_MODEL_DIR, Settings
from bot.contract.descriptions import describe
from bot.paint.service import PaintRequest
from bot.services import Services
from bot.write.service import WriteRequest
from tests.conftest import png_bytes

SHIPPED = sorted(Path(DEFAULT_MODEL_DIR).glob("*.onnx"))


@pytest.fixture(scope="module")
def shipped():
    if not SHIPPED:
        pytest.skip(f"no shipped models in {DEFAULT_MODEL_DIR}")
    services = Services.start(Settings(model_dir=DEFAULT_MODEL_DIR, prefer_gpu=False))
    yield services
    services.close()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_file_loads(shipped, path):
    assert path.stem in shipped.engine.models, shipped.engine.failures.get(path.stem)
    # /models shows a key number of each, the one its card leads with
    assert describe(shipped.engine.models[path.stem])["metrics"], path.stem


def needs(shipped, *names):
    missing = [n for n in names if n not in shipped.engine.models]
    if missing:
        pytest.skip(f"{', '.join(missing)} not shipped")


def test_color(shipped):
    needs(shipped, "color")
    assert shipped.color.color("forest").source == "known"
    predicted = shipped.color.color("haunted forest", model_only=True)
    assert predicted.source == "model" and shipped.color.render(predicted)[:4] == b"\x89PNG"
    if "bins" in shipped.engine.models["color"].metadata.extra:
        # The distribution model sees more than one colour for some invented names.
        names = ["cyber banana", "sunset over the bay", "coal", "rose", "ocean"]
        assert any(shipped.color.color(n, model_only=True).alternatives for n in names)


def test_name(shipped):
    needs(shipped, "names", "color")
    from bot.name.service import NameRequest

    result = shipped.name.name(NameRequest("#7a9e3b", seed=1))
    known = shipped.name.known_names(shipped.name.graph())
    assert len(result.names) == 3 and not {n.lower() for n in result.names} & known


def test_write_every_style(shipped):
    styles = shipped.write.styles()
    if not styles:
        pytest.skip("no writing styles shipped")
    for style in styles:
        result = shipped.write.write(WriteRequest(style, "The ", 80, 0.7, 1))
        assert result.generated_chars == 80 and result.text.startswith("The ")


def test_caption_with_and_without_image(shipped):
    needs(shipped, "captions")
    text = shipped.caption.caption(CaptionRequest(count=2, seed=1))
    assert len(text.captions) == 2 and all(text.captions)
    needs(shipped, "captions_encoder")
    image = shipped.caption.caption(CaptionRequest(image=png_bytes((40, 120, 200), (64, 48))))
    assert image.conditioned and image.captions[0]


def test_paint(shipped):
    if not shipped.paint.painters():
        pytest.skip("no painter shipped")
    result = shipped.paint.paint(PaintRequest(seed=1))
    assert result.indices.shape == (result.size, result.size) and result.png()[:4] == b"\x89PNG"
