"""Caption text policy shared by training and the bot.

Captions are lower case; only letters a-z, digits, space, apostrophe, comma and hyphen
are kept (final full stops and rare symbols are dropped); whitespace is collapsed. START
and END are control characters that never survive that cleaning.
"""

from __future__ import annotations

import re

START = "\x02"
END = "\x03"
_DROP = re.compile(r"[^a-z0-9 ',-]")


def normalize_caption(text: str) -> str:
    return " ".join(_DROP.sub(" ", text.lower()).split()).strip(" ,-")


# Words a caption repeats naturally ("a man in a red shirt and a woman in a hat").
FUNCTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "in",
        "on",
        "of",
        "at",
        "with",
        "and",
        "is",
        "are",
        "to",
        "by",
        "for",
        "from",
        "near",
        "its",
        "his",
        "her",
        "their",
    ]
)


def repeats_itself(text: str) -> bool:
    """True for the loops beam search falls into: a word twice in a row ("dog dog"), a
    repeated pair ending in a content word ("a dog ... a dog"), or any repeated triple."""
    words = text.split()
    if any(a == b for a, b in zip(words, words[1:], strict=False)):
        return True
    pairs = [p for p in zip(words, words[1:], strict=False) if p[1] not in FUNCTION_WORDS]
    triples = list(zip(words, words[1:], words[2:], strict=False))
    return len(set(pairs)) < len(pairs) or len(set(triples)) < len(triples)
