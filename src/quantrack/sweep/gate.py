"""One latency measurement at a time per machine: a node-local file lock around each timing phase.

Why a file lock (``fcntl.flock``) rather than a Ray resource or a named actor semaphore:

* it is node-local by construction: trials on *other* machines of a Ray cluster keep timing
  in parallel, and every trial on *this* machine — of this sweep, of another sweep, or a plain
  ``quantrack run`` given the same gate — waits its turn;
* the kernel releases it when the holder dies (a trial killed by Ctrl-C or by Ray), so no
  crashed trial can leave the gate shut, which an actor-held permit could;
* it costs one system call, and no round trip to an actor while a latency is being taken.

Only the timing phase is serialised: another trial's training and quantizing go on meanwhile,
each trial on its own Ray CPU. So on a 2-core machine the timed calls share the machine with at
most one busy core, never with a second timing loop.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def default_lock_path() -> Path:
    """Per user and machine (tempfile's directory is local), shared by every sweep run there."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"quantrack-timing-{uid}.lock"


class TimingGate:
    """A zero-argument callable returning a context manager, as ``pipeline.run(timing_gate=...)`` takes.

    Picklable (it holds only a path), so it travels to Ray workers inside the trial's arguments.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = str(path or default_lock_path())

    @contextmanager
    def __call__(self):
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks while another trial on this node is timing
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return f"TimingGate({self.path!r})"
