"""Printing what a data loader kept and dropped, the same way for every data set."""

from __future__ import annotations

from collections import Counter


def print_dropped(sources: list[dict], dropped: Counter, unit: str) -> None:
    for source in sources:
        details = ", ".join(f"{k} {v:,}" for k, v in source.items() if k != "file")
        print(f"  {source['file']}: {details}")
    print(f"  dropped {sum(dropped.values()):,} {unit}:")
    for reason, count in dropped.most_common():
        print(f"    {count:8,d}  {reason}")
