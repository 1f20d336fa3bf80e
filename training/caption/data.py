"""Caption corpora: COCO annotation JSON, `image,caption` CSV, or one caption per line.

Cleaning follows `bot.text.captions.normalize_caption`; captions shorter than 5 or
longer than MAX_CAPTION characters after cleaning are dropped and counted. Captions are
split by image (a hash of the image's key), so held-out captions always describe images
never seen in training.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.text.captions import END, START, normalize_caption
from bot.text.vocabulary import Vocabulary
from training.errors import UserError
from training.tokenlm.train import Examples

MAX_CAPTION = 100
MIN_CAPTION = 5


@dataclass
class Caption:
    key: str  # the image it describes ("coco:123", "flickr:abc.jpg") or the text itself
    text: str
    image: str | None = None  # file name, for image-conditioned training


@dataclass
class CaptionSet:
    captions: list[Caption]
    sources: list[dict] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)


def _rows(path: Path) -> list[tuple[str, str, str | None]]:
    """(key, raw caption, image file name or None) for one file."""
    try:
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            return [(f"coco:{a['image_id']}", a["caption"], None) for a in data["annotations"]]
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as f:
                reader = csv.DictReader(f)
                if not {"image", "caption"} <= set(reader.fieldnames or []):
                    raise UserError(f"{path} line 1: header must have 'image' and 'caption'")
                return [(f"flickr:{r['image']}", r["caption"] or "", r["image"]) for r in reader]
        lines = path.read_text(encoding="utf-8").splitlines()
        return [(f"text:{line}", line, None) for line in lines if line.strip()]
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not valid UTF-8") from None
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a COCO caption file ({exc})") from None


def load_captions(paths: list[Path]) -> CaptionSet:
    result = CaptionSet([])
    seen: set[tuple[str, str]] = set()
    for path in paths:
        rows = _rows(Path(path))
        kept = 0
        for key, raw, image in rows:
            text = normalize_caption(raw)
            if len(text) < MIN_CAPTION:
                result.dropped["too short after cleaning"] += 1
            elif len(text) > MAX_CAPTION:
                result.dropped[f"longer than {MAX_CAPTION} characters"] += 1
            elif (key, text) in seen:
                result.dropped["duplicate"] += 1
            else:
                seen.add((key, text))
                result.captions.append(Caption(key, text, image))
                kept += 1
        result.sources.append({"file": Path(path).name, "captions": len(rows), "kept": kept})
    if not result.captions:
        raise UserError("no usable captions in " + ", ".join(str(p) for p in paths))
    return result


def is_validation(key: str, fraction: float = 0.1) -> bool:
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") < fraction * 2**32


def split(captions: list[Caption], fraction: float = 0.1) -> tuple[list[Caption], list[Caption]]:
    val = [c for c in captions if is_validation(c.key, fraction)]
    train = [c for c in captions if not is_validation(c.key, fraction)]
    return train, val


def caption_vocabulary(captions: list[Caption]) -> Vocabulary:
    chars = sorted({ch for c in captions for ch in c.text})
    return Vocabulary([START, END, *chars])


def caption_examples(
    vocab: Vocabulary, texts: list[str], max_length: int = MAX_CAPTION
) -> Examples:
    """One row per caption: START+caption predicts caption+END; padding weighs nothing."""
    length = max_length + 1
    start, end = vocab.encode(START).ids[0], vocab.encode(END).ids[0]
    x = np.full((len(texts), length), end, np.int32)
    y = np.full((len(texts), length), end, np.int32)
    weights = np.zeros((len(texts), length), np.float32)
    for row, text in enumerate(texts):
        ids = vocab.encode(text).ids
        x[row, 0] = start
        x[row, 1 : len(ids) + 1] = ids
        y[row, : len(ids)] = ids
        weights[row, : len(ids) + 1] = 1.0  # the caption's characters and its END
    return Examples(x, y, weights)
