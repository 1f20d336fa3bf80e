"""Export the colour-to-name model as one single-step graph (head included), checked."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from bot.contract.metadata import ModelMetadata
from bot.contract.signatures import CHARLM
from bot.text.captions import END, START
from training.caption.image_export import step_graph, stepwise_difference
from training.caption.image_model import copy_decoder
from training.name.model import COLOR_STATE, build_name_step
from training.runtime import utc_now
from training.tokenlm.model import LMConfig, state_names


def name_layout(config: LMConfig) -> list[dict]:
    layout = [{"input": i, "output": o, "size": config.units} for i, o in state_names(config)]
    return [*layout, {"input": COLOR_STATE[0], "output": COLOR_STATE[1], "size": 3}]


def export_name(model: keras.Model, config: LMConfig, info: dict, metrics: dict, out: Path):
    from training.onnx_export import attach_metadata, write_checked

    step_model = build_name_step(config, model.get_layer("head"))
    copy_decoder(model, step_model, config.layers)
    layout = name_layout(config)
    proto = step_graph(step_model, layout)
    attach_metadata(
        proto,
        ModelMetadata(
            kind=CHARLM,
            vocabulary=info["vocabulary"],
            max_length=0,
            metrics=metrics,
            data_sources=info["data_sources"],
            training_command=info["training_command"],
            trained_at=utc_now(),
            extra={
                "task": "name",
                "start_token": START,
                "end_token": END,
                "conditioned_on": "color",
                "color_input": "CIELAB (D65) / 100 of the sRGB colour (bot.color.lab)",
                "state": layout,
                "config": config.as_dict(),
                "contexts": [],
                "val_fraction": info["val_fraction"],
                # Invented names must not be names of the lists: the file says which are.
                "known_names": "\n".join(sorted(info["known_names"])),
            },
        ),
    )
    lab = np.array([[0.55, 0.3, -0.2]], np.float32)
    start = {COLOR_STATE[0]: lab}
    tokens = np.random.default_rng(1).integers(0, config.vocab_size, 30).astype(np.int32)
    expected = keras.ops.convert_to_numpy(model([lab, tokens[None]], training=False))[0]
    difference = write_checked(
        proto, out, lambda session: stepwise_difference(session, layout, start, tokens, expected)
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), parity max |diff| = {difference:.2g}")
