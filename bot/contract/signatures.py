"""The graph signature each model kind must have, derived from its metadata.

The engine checks a loaded file against this before serving it, so a file exported
for another kind or with a mismatched vocabulary is refused at load time, not mid-reply.
"""

from __future__ import annotations

from bot.contract.metadata import ModelMetadata, TensorSpec

COLOR = "color"
CHARLM = "charlm"
CAPTION_ENCODER = "caption_encoder"


def expected_io(meta: ModelMetadata) -> tuple[list[TensorSpec], list[TensorSpec]]:
    if meta.kind == COLOR:
        return (
            [TensorSpec("chars", "int32", (None, meta.max_length))],
            [
                TensorSpec("bins", "float", (None, len(meta.extra["bins"])))
                if "bins" in meta.extra
                else TensorSpec("rgb", "float", (None, 3))
            ],
        )
    if meta.kind == CHARLM:
        size = len(meta.vocabulary)
        layout = meta.extra.get("state", [])
        contexts = meta.extra.get("contexts", [])
        return (
            [TensorSpec("tokens", "int32", (None,))]
            + [TensorSpec(c["input"], "int32", (None,)) for c in contexts]
            + [TensorSpec(s["input"], "float", (None, s["size"])) for s in layout],
            [TensorSpec("logits", "float", (None, size))]
            + [TensorSpec(s["output"], "float", (None, s["size"])) for s in layout],
        )
    if meta.kind == CAPTION_ENCODER:
        size = meta.extra["image_size"]
        return (
            [TensorSpec("image", "uint8", (None, size, size, 3))],  # bot.images.image_pixels
            [TensorSpec(s["output"], "float", (None, s["size"])) for s in meta.extra["state"]],
        )
    raise ValueError(f"unknown model kind {meta.kind!r}")
