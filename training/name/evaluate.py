"""`evaluate name`: does the colour shape the names, and do the names say the colour?

Run through the bot's own services (the names model and the colour model as users get
them) on held-out colours of the lists' split:

- nats/char of the held-out names given their own colour and given another colour;
- of the names offered, the share of their words that are words of the lists (plausible
  names are made of real words: "Mossy Lagoon");
- round trip: `/color` of each offered name against the colour asked for (CIEDE2000),
  beside the same for names offered for another colour (the control: if the colour did
  nothing, the two would be equal).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from bot.color.service import ColorService
from bot.name.service import NameRequest, NameService, color_input, color_state
from bot.render import hex_color
from bot.runtime.batching import BatcherPool
from bot.runtime.engine import InferenceEngine
from bot.runtime.lm import StepGraph
from training.caption.evaluate import caption_nats
from training.color.data import load_colors, split
from training.colorspace import delta_e
from training.errors import UserError


def evaluate_name(
    model: Path, color_model: Path, data: list[Path], colors: int = 200, seed: int = 0
) -> dict:
    folder = Path(model).parent
    engine = InferenceEngine(folder, prefer_gpu=False)
    try:
        engine.models["names"] = engine.load_file(Path(model))
        engine.models["color"] = engine.load_file(Path(color_model))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    meta = engine.models["names"].metadata
    val = split(load_colors(data), meta.extra.get("val_fraction", 0.1))[1]
    graph = StepGraph(engine.models["names"])
    lab = color_input(val.rgb)
    own = caption_nats(graph, val.names, color_state(graph, lab))
    other = caption_nats(graph, val.names, color_state(graph, np.roll(lab, 1, axis=0)))
    pool = BatcherPool()
    color_service = ColorService(engine)
    service = NameService(engine, pool, color_service)
    pick = np.random.default_rng(seed).choice(len(val), min(colors, len(val)), replace=False)
    asked, offered = [], []
    for i in pick:
        rgb = tuple(int(v) for v in val.rgb[i])
        result = service.name(NameRequest(hex_color(rgb), 0.8, seed=int(i)))
        asked += [rgb] * len(result.names)
        offered += result.names
    pool.close()
    words = {w for n in engine.models["names"].metadata.extra["known_names"].split("\n")
             for w in n.split()}  # fmt: skip
    generated = [w for n in offered for w in re.findall(r"[a-z0-9']+", n.lower())]
    back = np.array([color_service.color(n, model_only=True).rgb for n in offered]) / 255
    asked = np.array(asked) / 255
    control = np.roll(back, len(offered) // 2, axis=0)  # names offered for other colours
    return {
        "val_names": len(val),
        "val_nats_per_char_own_color": round(own, 4),
        "val_nats_per_char_other_color": round(other, 4),
        "own_color_below_other": round((other - own) / other, 4),
        "colors_named": len(pick),
        "names_offered": len(offered),
        "real_word_share": round(sum(w in words for w in generated) / len(generated), 4),
        "round_trip_delta_e_mean": round(float(delta_e(asked, back).mean()), 3),
        "round_trip_delta_e_other_color": round(float(delta_e(asked, control).mean()), 3),
        "examples": [
            {"hex": hex_color(tuple(int(v * 255 + 0.5) for v in a)), "name": n}
            for a, n in list(zip(asked, offered, strict=True))[:30]
        ],
    }


def main(args) -> None:
    print(json.dumps(evaluate_name(args.model, args.color_model, args.data, args.colors)))
