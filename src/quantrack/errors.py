"""The one exception type a user sees: its message is printed as a single line."""


class QuantrackError(Exception):
    """Bad input or an unusable environment; the CLI prints it as one line and exits 2."""


class Interrupted(QuantrackError):
    """Ctrl-C or SIGTERM where the usual "run marked FAILED" line would be wrong; its own line, exit 130."""

    exit_code = 130


class TrackingError(QuantrackError):
    """The tracking server refused us or could not be reached."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none), for one-line reports."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
