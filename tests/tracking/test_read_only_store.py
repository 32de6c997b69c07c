"""A tracking store quantrack may read but not write: one line, exit 2, before any training."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _store(tmp_path: Path) -> Path:
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


def test_a_store_opened_read_only_is_one_line_without_mlflows_traceback(tmp_path):
    db = _store(tmp_path)
    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.run([sys.executable, "-m", "quantrack", "run", "--epochs", "1", "--out", str(tmp_path / "runs"),
                           "--tracking-uri", f"sqlite:///file:{db}?mode=ro&uri=true"],
                          env=dict(os.environ, PYTHONPATH=str(src)), capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "is read-only" in proc.stderr, proc.stderr[-2000:]


def test_a_store_without_write_permission_is_refused_at_the_check(tmp_path, monkeypatch):
    import pytest

    from quantrack.errors import TrackingError
    from quantrack.tracking.tracker import Tracker

    db = _store(tmp_path)
    real = os.access
    # chmod does not stop root, who runs these tests in containers: the permission check is simulated.
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == db and mode == os.W_OK else real(p, mode))
    tracker = Tracker(f"sqlite:///{db}", "x")
    with pytest.raises(TrackingError, match="is read-only"):
        tracker.check()
