"""Reading and cleaning colour-name CSVs (`name,red,green,blue` or `name,hex`)."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.text.vocabulary import normalize_name
from training.errors import UserError

MAX_NAME_LENGTH = 32


@dataclass
class ColorTable:
    names: list[str]
    rgb: np.ndarray  # (n, 3) uint8
    sources: list[dict] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.names)


def _parse_hex(value: str) -> tuple[int, int, int] | None:
    value = value.strip().removeprefix("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    if len(value) != 6:
        return None
    try:
        n = int(value, 16)
    except ValueError:
        return None
    return (n >> 16) & 255, (n >> 8) & 255, n & 255


def _parse_channels(values: list[str]) -> tuple[int, int, int] | None:
    try:
        channels = [float(v) for v in values]
    except ValueError:
        return None
    if any(not (0 <= c <= 255) or c != int(c) for c in channels):
        return None
    return tuple(int(c) for c in channels)  # type: ignore[return-value]


def read_color_csv(path: Path) -> list[tuple[int, str, tuple[int, int, int] | None]]:
    """Rows as (line number, raw name, rgb or None when the colour is invalid).

    A file whose structure is wrong (unknown header, wrong number of fields, not UTF-8)
    raises UserError naming the line, because guessing would silently train on garbage.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        line = Path(path).read_bytes()[: exc.start].count(b"\n") + 1
        raise UserError(f"{path} line {line}: not valid UTF-8") from None
    reader = csv.reader(text.splitlines())
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:4] == ["name", "red", "green", "blue"]:
        width, parse = 4, lambda fields: _parse_channels(fields[1:4])
    elif header[:2] == ["name", "hex"]:
        width, parse = 2, lambda fields: _parse_hex(fields[1])
    else:
        raise UserError(
            f"{path} line 1: header must start with 'name,red,green,blue' or 'name,hex', "
            f"got {','.join(header)!r}"
        )
    rows = []
    for fields in reader:
        if not fields:
            continue
        if len(fields) < width:
            raise UserError(
                f"{path} line {reader.line_num}: expected at least {width} fields, "
                f"got {len(fields)}"
            )
        rows.append((reader.line_num, fields[0], parse(fields)))
    return rows


def load_colors(paths: list[Path]) -> ColorTable:
    """Read, clean and de-duplicate several lists; the first list wins a name they disagree on."""
    names: list[str] = []
    colors: list[tuple[int, int, int]] = []
    seen: dict[str, int] = {}
    dropped: Counter = Counter()
    sources = []
    for path in paths:
        kept = 0
        rows = read_color_csv(path)
        for _, raw_name, rgb in rows:
            name = normalize_name(raw_name)
            if not name:
                dropped["empty name"] += 1
            elif len(name) > MAX_NAME_LENGTH:
                dropped[f"name longer than {MAX_NAME_LENGTH} characters"] += 1
            elif rgb is None:
                dropped["invalid colour value"] += 1
            elif name in seen:
                same = colors[seen[name]] == rgb
                dropped["duplicate name" if same else "duplicate name, other colour"] += 1
            else:
                seen[name] = len(names)
                names.append(name)
                colors.append(rgb)
                kept += 1
        sources.append({"file": Path(path).name, "rows": len(rows), "kept": kept})
    if not names:
        raise UserError("no usable colour rows in " + ", ".join(str(p) for p in paths))
    return ColorTable(names, np.asarray(colors, dtype=np.uint8), sources, dropped)


def is_validation_name(name: str, fraction: float = 0.1, salt: str = "") -> bool:
    """Stable split by a hash of the name: a name stays on its side when lists are added.
    A `salt` gives a split independent of the unsalted one (a refit's list may be names
    that its base held out)."""
    digest = hashlib.sha1((salt + name).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") < fraction * 2**32


def split(
    table: ColorTable, fraction: float = 0.1, salt: str = ""
) -> tuple[ColorTable, ColorTable]:
    mask = np.array([is_validation_name(n, fraction, salt) for n in table.names])
    pick = lambda m: ColorTable(  # noqa: E731
        [n for n, keep in zip(table.names, m, strict=True) if keep], table.rgb[m]
    )
    return pick(~mask), pick(mask)
