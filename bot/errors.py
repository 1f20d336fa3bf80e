"""Errors whose message is written for the person who typed the command."""

import re


class UserFacingError(Exception):
    """Shown to the user as is (ephemeral on Discord); never carries a traceback."""


class InvalidInput(UserFacingError):
    pass


class ModelUnavailable(UserFacingError):
    pass


class ModelGone(ModelUnavailable):
    """The model a request names is not in service (removed, or it failed to load), as
    opposed to a passing state (being replaced, shutting down, the tier unreachable):
    buttons that name it are switched off only for this."""


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\*_~`|>#[]()"})


def quoted(text: str, limit: int = 40) -> str:
    """User text echoed in a message: cut to `limit` characters, quoted, with markdown
    characters escaped and mention syntax broken, so an error can neither grow past a
    message's limit nor restyle it nor ping anyone."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    safe = " ".join(cut.split()).translate(_MARKDOWN).replace("@", "@\u200b")  # no mentions
    return "'" + safe + "'"


_ESCAPED = re.compile(r"\\([\\*_~`|>#\[\]()])")


def plain(message: str) -> str:
    """A user-facing message as a terminal shows it: without Discord's markdown escapes
    and the zero-width space that breaks mentions."""
    return _ESCAPED.sub(r"\1", message).replace("@\u200b", "@")
