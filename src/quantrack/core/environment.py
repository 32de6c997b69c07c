"""Environment variables set for a block and put back after: a call leaves the process as it found it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def env_override(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` for the block; each variable is restored (or removed, if it was unset) afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
