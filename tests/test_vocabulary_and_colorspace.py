import numpy as np
import pytest

from bot.color.service import encode_names
from bot.text.vocabulary import Vocabulary, normalize_name
from training.colorspace import ciede2000, delta_e, srgb_to_lab


def test_normalize_name():
    assert normalize_name("  Café   AU\tLait ") == "cafe au lait"
    assert normalize_name("Rock\u2019n Roll") == "rock'n roll"


def test_encode_round_trip_and_drops_unknown():
    vocab = Vocabulary.from_texts(["abc ", "cab"], offset=1)
    assert vocab.size == 5  # padding + a b c space
    encoded = vocab.encode("cab 🌲x")
    assert vocab.decode(encoded.ids) == "cab "
    assert encoded.dropped == ("🌲", "x")
    assert 0 not in encoded.ids


def test_right_and_left_padding():
    vocab = Vocabulary("abc", offset=1)
    right = encode_names(vocab, ["ab", "abcabc"], 4, left_pad=False)
    left = encode_names(vocab, ["ab", "abcabc"], 4, left_pad=True)
    assert right.tolist() == [[1, 2, 0, 0], [1, 2, 3, 1]]
    assert left.tolist() == [[0, 0, 1, 2], [3, 1, 2, 3]]


@pytest.mark.parametrize(
    "lab1, lab2, expected",
    [  # Sharma, Wu & Dalal (2005) test data
        ((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
        ((50, 0, 0), (50, -1, 2), 2.3669),
        ((50, 2.5, 0), (73, 25, -18), 27.1492),
    ],
)
def test_ciede2000_reference_values(lab1, lab2, expected):
    assert ciede2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)


def test_lab_of_white_and_identity():
    assert srgb_to_lab(np.array([1.0, 1.0, 1.0])) == pytest.approx([100, 0, 0], abs=1e-3)
    rgb = np.random.default_rng(0).random((10, 3))
    assert delta_e(rgb, rgb) == pytest.approx(np.zeros(10), abs=1e-9)
