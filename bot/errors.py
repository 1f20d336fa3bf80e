"""Errors whose message is written for the person who typed the command."""


class UserFacingError(Exception):
    """Shown to the user as is (ephemeral on Discord); never carries a traceback."""


class InvalidInput(UserFacingError):
    pass


class ModelUnavailable(UserFacingError):
    pass
