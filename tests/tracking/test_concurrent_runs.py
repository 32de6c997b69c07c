"""Two terminals, one store: runs started together on a fresh SQLite store and a new experiment all succeed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


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


def _run(tmp: Path, i: int) -> subprocess.Popen:
    src = Path(__file__).resolve().parents[2] / "src"
    env = dict(os.environ, PYTHONPATH=str(src))
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.Popen([sys.executable, "-m", "quantrack", "run", "--epochs", "1", "--methods", "dynamic-int8",
                             "--experiment", "side-by-side", "--out", f"runs{i}"], cwd=tmp, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("n", [4])  # 4 on 2 cores is the contended case; 2 adds time, not a new race
def test_runs_started_together_on_a_fresh_store_all_succeed(tmp_path, n):
    from mlflow.tracking import MlflowClient

    procs = [_run(tmp_path, i) for i in range(n)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [e[-400:] for e in errors]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.get_experiment_by_name("side-by-side")
    runs = [r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]
    assert len(runs) == n and {r.info.status for r in runs} == {"FINISHED"}
    assert len(client.search_model_versions("name='quantrack-digits-logreg'")) == n  # each run's champion
