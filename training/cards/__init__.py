"""Model cards (markdown next to the ONNX file), written from the file's own metadata.

Everything in a card is read from the model, its run directory or measured here, so the
card cannot drift from the model it describes. One module per model kind; these are the
cards' entry points.
"""

from training.cards.caption import caption_card
from training.cards.color import color_card
from training.cards.common import sample_lines
from training.cards.name import name_card
from training.cards.paint import paint_card
from training.cards.write import ensemble_card, write_card

__all__ = [
    "caption_card",
    "color_card",
    "ensemble_card",
    "name_card",
    "paint_card",
    "sample_lines",
    "write_card",
]
