"""Problems a user can fix (bad file, bad flag): shown as a one-line message, no traceback."""


class UserError(Exception):
    pass
