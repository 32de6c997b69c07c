"""Children that a test interrupts with SIGINT, as a terminal's Ctrl-C would."""

from __future__ import annotations

import signal


def default_ctrl_c() -> None:
    """``preexec_fn`` for such a child: SIGINT at its default, as in a terminal's foreground job.

    A test run started in the background by a shell without job control inherits SIGINT ignored, and
    a Python started with SIGINT ignored keeps ignoring it: the interrupt the test sends would be lost.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
