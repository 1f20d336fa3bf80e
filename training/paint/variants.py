"""The painter's variants: which context inputs each step sees (kinds: `bot.paint.tokens`)."""

VARIANTS = {
    "above": ("previous pixel + pixel above + column", ("above", "column")),
    "row": ("previous pixel + pixel above + column + row", ("above", "column", "row")),
    "neighbours": (
        "previous pixel + pixels above-left, above, above-right + column + row",
        ("above_left", "above", "above_right", "column", "row"),
    ),
    "previous": ("previous pixel only (the tutorial's model)", ()),
}
MEANINGS = {
    "above": "pixel above",
    "above_left": "pixel above and to the left",
    "above_right": "pixel above and to the right",
    "column": "column of the pixel being predicted",
    "row": "row of the pixel being predicted",
}
