"""Point this process's MLflow at a store for a while, and leave nothing behind.

``mlflow.set_tracking_uri`` also writes MLFLOW_TRACKING_URI into os.environ (so that subprocesses
inherit it), and setting the previous URI back leaves that variable set: every process a later test
starts, such as a new user's default `quantrack run`, would then write into this store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def tracking_uri(uri: str) -> Iterator[str]:
    import mlflow

    previous, previous_env = mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(previous)
        if previous_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_env
