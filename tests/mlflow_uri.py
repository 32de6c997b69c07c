"""Point this process's MLflow at a store for a while, and leave nothing behind.

``mlflow.set_tracking_uri`` also writes MLFLOW_TRACKING_URI into os.environ (so that subprocesses
inherit it), and setting the previous URI back leaves that variable set: every process a later test
starts, such as a new user's default `quantrack run`, would then write into this store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from quantrack.core.environment import env_override


@contextmanager
def tracking_uri(uri: str) -> Iterator[str]:
    import mlflow

    previous = mlflow.get_tracking_uri()
    with env_override({"MLFLOW_TRACKING_URI": uri}):  # put back (or removed) after mlflow's own write below
        mlflow.set_tracking_uri(uri)
        try:
            yield uri
        finally:
            mlflow.set_tracking_uri(previous)
