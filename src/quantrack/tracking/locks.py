"""An advisory lock held on a directory, so two quantrack processes take turns at one job.

``flock`` on the directory itself: no lock file is left beside the user's files, and the OS
releases the lock when the holder dies, however it dies (Ctrl-C, SIGKILL), so a crashed
process can never leave it stuck.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def directory_lock(directory: Path, on_wait=None, timeout_s: float | None = None):
    """Hold an exclusive lock on ``directory`` for the ``with`` block.

    ``on_wait()`` is called once if another process holds it; then we wait, at most ``timeout_s``
    seconds (None: as long as it takes) before raising TimeoutError.
    """
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no lock, as before
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            if timeout_s is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + timeout_s
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"{directory} stayed locked for {timeout_s:.0f} s") from None
                        time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock
