"""The one error type for problems a user can fix.

Every check of user input raises :class:`WganError` with a message that names the value, what was expected
and what to do. The CLI prints the message on one line and exits with status 2; library callers catch it.
"""


class WganError(ValueError):
    """A problem with the user's input (configuration, data file, run folder): the message says how to fix it."""
