"""Open (and on first use, create) a SQLite tracking store in a child process while the parent imports torch.

Why: MLflow creates a new SQLite store by running its alembic migrations (67 in mlflow 3.17), about 1.2 s
here after ~1.6 s of importing SQLAlchemy, alembic and the store. The parent imports
torch (~1.4 s) meanwhile on the other core. The child runs MLflow's own code with the same URI,
working directory and environment, so the store is the one the parent would have created.
The parent always waits for the child to end before it touches the store; if the child
failed, the parent's own MlflowClient meets the same problem and reports it as usual.
"""

from __future__ import annotations

import os
from collections.abc import Collection
import subprocess
import sys
from pathlib import Path

WAIT_S = 120.0  # creating a store takes ~3 s; past this something is wrong and the parent takes over


def is_sqlite_file(uri: str | None) -> bool:
    """A SQLite tracking URI naming a file (the only stores this helps: servers migrate their own)."""
    if uri is None:  # MLflow's default, resolved in the child exactly as the parent would
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if uri is None:
            return True
    return uri.startswith("sqlite:///") and ":memory:" not in uri


def creation_lock(uri: str | None):
    """A lock held while MLflow opens a SQLite store (and creates its tables if it is new).

    Two processes opening a fresh store at once would both create the schema and one would fail
    with "table ... already exists"; the lock is on the store's folder, so a second process waits
    (a few seconds: one migration) and then finds the tables made. Other stores: no lock.
    """
    import contextlib

    path = sqlite_path(uri)
    if path is None:
        return contextlib.nullcontext()
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)  # MLflow would make it too
    except OSError:
        return contextlib.nullcontext()  # MLflow meets the same problem and says so
    from quantrack.tracking.locks import directory_lock

    return directory_lock(folder, timeout_s=WAIT_S)


def sqlite_path(uri: str | None) -> Path | None:
    """The database file of a SQLite tracking URI (``sqlite:///x.db``, ``sqlite:///file:x.db?mode=ro&uri=true``), else None."""
    if not is_sqlite_file(uri):
        return None
    if uri is None:
        import mlflow

        uri = os.environ.get("MLFLOW_TRACKING_URI") or mlflow.get_tracking_uri()
    name = uri[len("sqlite:///"):].split("?", 1)[0]
    if name.startswith("file:"):  # SQLite's own URI form
        name = name[len("file:"):]
    return Path(name)


class StoreWarmup:
    """A child that creates the store; ``wait()`` before using it, ``close()`` whatever happens."""

    def __init__(self, tracking_uri: str | None) -> None:
        self._proc: subprocess.Popen | None = None
        if not is_sqlite_file(tracking_uri):
            return
        try:
            # Output is discarded: on any failure the parent meets the same error and reports it.
            self._proc = subprocess.Popen(_command(tracking_uri or ""), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            self._proc = None

    @property
    def started(self) -> bool:
        return self._proc is not None

    def wait(self, timeout_s: float = WAIT_S) -> bool:
        """Block until the child is done; True if it created or opened the store."""
        if self._proc is None:
            return False
        try:
            return self._proc.wait(timeout=timeout_s) == 0
        except subprocess.TimeoutExpired:
            self.close()
            return False

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def _command(uri: str) -> list[str]:
    """-P keeps the working directory off sys.path: a folder named "quantrack" there cannot shadow us."""
    return [sys.executable, "-P", "-m", "quantrack.tracking.sqlite_store", uri]


def _create(uri: str) -> int:
    """The child: let MLflow open the store, which creates and migrates it if it is new."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = uri or mlflow.get_tracking_uri()
    if not is_sqlite_file(uri):
        return 0
    with creation_lock(uri):
        MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    return 0


if __name__ == "__main__":
    code = _create(sys.argv[1] if len(sys.argv) > 1 else "")
    os._exit(code)  # skip the interpreter's teardown of SQLAlchemy and MLflow: the parent waits on our exit


def warm_up_while_importing(tracking_uri: str | None) -> None:
    """In a fresh process, a child opens (creates) a SQLite store while we import torch and MLflow."""
    import os
    import sys

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not store_child_helps(sys.modules.keys(), cores):
        return
    store = StoreWarmup(tracking_uri)
    try:
        if store.started:
            import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
            import torch  # noqa: F401

            store.wait()
    finally:
        store.close()


def store_child_helps(imported: Collection[str], cores: int) -> bool:
    """Only a cold process with a second core gains: it has ~3 s of imports to overlap with the
    child's ~3 s. A warm one (a test suite, a notebook calling run() again) creates the store
    itself in ~1.2 s, and on one core the child's own ~1.6 s of imports would be pure cost.
    """
    return cores >= 2 and not {"torch", "mlflow.store.tracking.sqlalchemy_store"} & set(imported)
