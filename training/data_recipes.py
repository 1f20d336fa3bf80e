"""How a fetched file is repaired (the manifest's `fix`) or turned into a file training reads
(its `recipe`): functions of the downloaded files alone."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from training.errors import UserError


def _latin1_roundtrip(data: bytes) -> bytes:
    """Undo double-encoded UTF-8 (UTF-8 bytes once read as Latin-1, e.g. 'Ã¤' for 'ä')."""
    try:
        return data.decode("utf-8").encode("latin-1").decode("utf-8").encode("utf-8")
    except UnicodeError as exc:
        raise UserError(f"the download is not double-encoded UTF-8 as expected: {exc}") from exc


def _hex_to_rgb(source: Path, folder: Path) -> bytes:
    """name,hex,... rows as name,red,green,blue, so the list can stand in for colors.csv."""
    rows = csv.reader(io.StringIO(source.read_text(encoding="utf-8"), newline=""))
    next(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "red", "green", "blue"])
    for name, hex_value, *_ in rows:
        digits = hex_value.lstrip("#")
        writer.writerow([name, *(int(digits[i : i + 2], 16) for i in (0, 2, 4))])
    return out.getvalue().encode("utf-8")


def _caption_lines_csv(source: Path, folder: Path) -> bytes:
    """The captions of an image,caption CSV, one a line, whitespace collapsed."""
    with open(source, newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        next(rows)
        return "".join(" ".join(caption.split()) + "\n" for _, caption in rows).encode("utf-8")


def _caption_lines_coco(source: Path, folder: Path) -> bytes:
    """The captions of a COCO annotations file, in its order, one a line."""
    annotations = json.loads(source.read_text(encoding="utf-8"))["annotations"]
    return "".join(" ".join(a["caption"].split()) + "\n" for a in annotations).encode("utf-8")


def _captions_of_images(source: Path, folder: Path) -> bytes:
    """The image,caption rows (CSV, in the source's order) whose image is in `folder`."""
    present = {p.name for p in folder.glob("*.jpg")}
    with open(source, newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(row for row in rows if row[0] in present)
    return out.getvalue().encode("utf-8")


FIXES: dict[str, Callable[[bytes], bytes]] = {"latin1_roundtrip": _latin1_roundtrip}
RECIPES: dict[str, Callable[[Path, Path], bytes]] = {
    "hex_to_rgb": _hex_to_rgb,
    "caption_lines_csv": _caption_lines_csv,
    "caption_lines_coco": _caption_lines_coco,
    "captions_of_images": _captions_of_images,
}
