"""Errors whose message is written for the person who typed the command."""


class UserFacingError(Exception):
    """Shown to the user as is (ephemeral on Discord); never carries a traceback."""


class InvalidInput(UserFacingError):
    pass


class ModelUnavailable(UserFacingError):
    pass


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\*_~`|>#[]()"})


def quoted(text: str, limit: int = 40) -> str:
    """User text echoed in a message: cut to `limit` characters, quoted, with markdown
    characters escaped, so an error can neither grow past a message's limit nor restyle
    it."""
    cut = text if len(text) <= limit else text[: limit - 1] + "…"
    return "'" + " ".join(cut.split()).translate(_MARKDOWN) + "'"
