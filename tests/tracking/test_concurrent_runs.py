"""Two processes, one store: an experiment created meanwhile by another process is used, and a SQLite store
is opened under the lock on its folder. Three real runs and a sync racing on one store are in test_concurrent_stores.py."""

from __future__ import annotations

import os


def test_an_experiment_created_meanwhile_by_another_process_is_used(sqlite_uri):
    from mlflow.tracking import MlflowClient

    from quantrack.tracking.tracker import Tracker

    tracker = Tracker(sqlite_uri, "brand-new")
    tracker.check()  # not there yet
    other = MlflowClient(sqlite_uri).create_experiment("brand-new")  # the other terminal wins the race
    tracker.start(None, {})
    assert tracker.experiment_id == other


def test_a_sqlite_store_is_opened_under_the_lock_on_its_folder(tmp_path, monkeypatch):
    """MLflow creates a new store's tables while opening it; a second process must wait meanwhile."""
    import fcntl

    from quantrack.tracking import tracker as tracking

    (tmp_path / "store").mkdir()
    seen = []

    def client(tracking_uri):
        fd = os.open(tmp_path / "store", os.O_RDONLY)  # what a second process would try
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append("free")
        except BlockingIOError:
            seen.append("locked")
        finally:
            os.close(fd)
        return object()

    monkeypatch.setattr("mlflow.tracking.MlflowClient", client)
    tracking.Tracker(f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}", "x")
    assert seen == ["locked"]
