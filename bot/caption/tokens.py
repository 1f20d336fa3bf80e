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
