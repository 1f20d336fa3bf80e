"""The painter's variants: which context inputs each step sees (kinds: `bot.contract.pixels`)."""

VARIANTS = {
    "above": ("previous pixel + pixel above + column", ("above", "column")),
    "row": ("previous pixel + pixel above + column + row", ("above", "column", "row")),
    "neighbours": (
        "previous pixel + pixels above-left, above, above-right + column + row",
        ("above_left", "above", "above_right", "column", "row"),
    ),
    "thumbnail": (
        "previous pixel + pixels above-left, above, above-right + column + row + the "
        "colours of the thumbnail painted first (--thumbnail) at the pixel's block and the "
        "blocks right and below",
        (
            "above_left",
            "above",
            "above_right",
            "column",
            "row",
            "coarse",
            "coarse_right",
            "coarse_below",
        ),
    ),
    "previous": ("previous pixel only (the tutorial's model)", ()),
}
MEANINGS = {
    "above": "pixel above",
    "above_left": "pixel above and to the left",
    "above_right": "pixel above and to the right",
    "column": "column of the pixel being predicted",
    "row": "row of the pixel being predicted",
    "coarse": "thumbnail colour of the pixel's block",
    "coarse_right": "thumbnail colour of the block to the right",
    "coarse_below": "thumbnail colour of the block below",
}
