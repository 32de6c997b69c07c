"""The one exception an LM method raises when it cannot run here (a leaf: every LM module may import it)."""


class LMMethodUnavailable(Exception):
    """The method cannot run here; the message is the report's reason."""
