"""``quantrack sync`` exactly once: interrupted, repeated, concurrent, or fed a damaged entry.

The "server" is a SQLite store: sync treats every tracking URI alike, and these cases are about
the spool, not the network (test_spool.py covers a real server going away).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXPERIMENT = "sync-test"
POINTS = 5


def _spooled_run(tmp_path: Path, uri: str, name: str = "r") -> tuple[str, Path]:
    """A run that reached the store at its start, then lost it: its end is in the spool."""
    from quantrack.tracking.tracker import Tracker

    tracker = Tracker(uri, EXPERIMENT)
    run_id = tracker.start(name, {"lr": 0.01})
    tracker.offline_reason = "simulated outage"  # as after a network error
    for step in range(1, POINTS + 1):
        tracker.log_metrics({"loss": 1.0 / step}, step=step)
    models = tmp_path / f"out-{name}" / "models"
    models.mkdir(parents=True)
    (models / "fp32.pt").write_bytes(b"w" * 4096)
    tracker.log_artifacts(models, "models")
    tracker.journal["registry"] = {"name": "sync-model", "champion": "fp32", "alias": "champion",
                                   "versions": [{"variant": "fp32", "artifact_path": "models", "accuracy": 0.9}]}
    tracker._reconnect = lambda: False  # still gone at the end
    assert tracker.end("FINISHED", spool_root=tmp_path / "runs" / "spool") == "spooled"
    return run_id, tracker.spooled_to


def _client(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def test_a_truncated_weights_file_is_refused_kept_and_never_registered(tmp_path, sqlite_uri, run_cli, capsys):
    run_id, entry = _spooled_run(tmp_path, sqlite_uri)
    weights = next(entry.rglob("fp32.pt"))
    weights.write_bytes(b"0123456789")  # truncated to 10 bytes
    assert run_cli("sync", "--out", str(tmp_path / "runs")) == 2
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "fp32.pt" in err and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("quantrack: error: 1 spooled run(s) could not be read")
    assert weights.read_bytes() == b"0123456789"  # kept as it is, for the user to look at
    client = _client(sqlite_uri)
    assert client.search_registered_models() == []
    assert client.get_run(run_id).info.status == "RUNNING"  # nothing was sent from it


@pytest.mark.parametrize("damage,fragment", [
    (lambda e: next(e.rglob("fp32.pt")).unlink(), "is missing"),
    (lambda e: (next(e.rglob("fp32.pt")).parent / "extra.bin").write_bytes(b"x"), "not part of the spooled run"),
    (lambda e: _edit(e, checksums=None), "has no file checksums"),
])
def test_other_damage_to_the_files_is_refused_in_one_line(tmp_path, sqlite_uri, run_cli, capsys, damage, fragment):
    _, entry = _spooled_run(tmp_path, sqlite_uri)
    damage(entry)
    assert run_cli("sync", "--out", str(tmp_path / "runs")) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err, err
    assert entry.is_dir()


def _edit(entry, **changes):
    record = json.loads((entry / "run.json").read_text())
    record.update(changes)
    (entry / "run.json").write_text(json.dumps(record))


def test_an_interrupted_sync_is_completed_by_the_next_one(tmp_path, sqlite_uri, run_cli, capsys, monkeypatch):
    from mlflow.tracking import MlflowClient

    run_id, entry = _spooled_run(tmp_path, sqlite_uri)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(MlflowClient, "log_artifacts", ctrl_c)  # after params and metrics, before the registry
        assert run_cli("sync", "--out", str(tmp_path / "runs")) == 130
    err = capsys.readouterr().err
    assert f"run {run_id} stays in" in err and "next `quantrack sync` completes it" in err
    assert "marked FAILED" not in err
    assert (entry / "run.json").is_file()

    assert run_cli("sync", "--out", str(tmp_path / "runs")) == 0
    assert f"synced run {run_id}" in capsys.readouterr().err
    assert not entry.exists() and [p.name for p in entry.parent.iterdir()] == []
    client = _client(sqlite_uri)
    assert client.get_run(run_id).info.status == "FINISHED"
    assert sorted(m.step for m in client.get_metric_history(run_id, "loss")) == list(range(1, POINTS + 1))
    assert [v.run_id for v in client.search_model_versions("name='sync-model'")] == [run_id]


def test_an_entry_stranded_by_an_older_sync_is_resumed(tmp_path, sqlite_uri, run_cli, capsys):
    run_id, entry = _spooled_run(tmp_path, sqlite_uri)
    entry.rename(entry.with_name(f".syncing-{entry.name}-4242"))  # what Ctrl-C left before this fix
    assert run_cli("sync", "--out", str(tmp_path / "runs")) == 0
    err = capsys.readouterr().err
    assert f"resuming the interrupted sync of run {run_id}" in err and f"synced run {run_id}" in err
    assert _client(sqlite_uri).get_run(run_id).info.status == "FINISHED"
    assert list(entry.parent.iterdir()) == []


def _sync_process(out: Path) -> subprocess.Popen:
    src = Path(__file__).resolve().parents[2] / "src"
    env = dict(os.environ, PYTHONPATH=str(src))
    return subprocess.Popen([sys.executable, "-m", "quantrack", "sync", "--out", str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_sync_waits_for_the_first(tmp_path, sqlite_uri):
    from quantrack.tracking.locks import directory_lock

    run_id, entry = _spooled_run(tmp_path, sqlite_uri)
    with directory_lock(entry.parent):  # as a first sync holds it
        proc = _sync_process(tmp_path / "runs")
        time.sleep(5)  # time to start and meet the lock
        assert proc.poll() is None and entry.exists()  # waiting, not uploading
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "another quantrack sync is uploading" in err and f"synced run {run_id}" in err
    assert _client(sqlite_uri).get_run(run_id).info.status == "FINISHED"


def test_two_syncs_at_once_upload_each_run_once(tmp_path, sqlite_uri):
    runs = [_spooled_run(tmp_path, sqlite_uri, name=f"r{i}")[0] for i in range(3)]
    procs = [_sync_process(tmp_path / "runs") for _ in range(2)]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert "Traceback" not in "".join(err for _, err in results)
    client = _client(sqlite_uri)
    for run_id in runs:
        assert client.get_run(run_id).info.status == "FINISHED"
        assert len(client.get_metric_history(run_id, "loss")) == POINTS
    assert sorted(v.run_id for v in client.search_model_versions("name='sync-model'")) == sorted(runs)
    assert list((tmp_path / "runs" / "spool").iterdir()) == []


def test_a_run_that_failed_while_offline_registers_nothing_at_sync(tmp_path, sqlite_uri, run_cli, capsys):
    from quantrack.tracking.tracker import Tracker

    tracker = Tracker(sqlite_uri, EXPERIMENT)
    run_id = tracker.start("f", {})
    tracker.offline_reason = "simulated outage"
    tracker.register({"name": "sync-model", "champion": "fp32", "alias": "champion",
                      "versions": [{"variant": "fp32", "artifact_path": "models", "accuracy": 0.9}]})
    tracker.fail(spool_root=tmp_path / "runs" / "spool")  # e.g. the disk filled up after that
    assert run_cli("sync", "--out", str(tmp_path / "runs")) == 0
    client = _client(sqlite_uri)
    assert client.get_run(run_id).info.status == "FAILED"
    assert client.search_registered_models() == []
