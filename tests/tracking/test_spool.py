"""A server that dies mid-run: training goes on, the run is spooled, and ``quantrack sync`` completes it once."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from servers import MlflowServer, free_port

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = MlflowServer(tmp_path_factory.mktemp("plain-server"))
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def quick_end_retries(monkeypatch):
    from quantrack.tracking import tracker as tracking

    monkeypatch.setattr(tracking, "END_RETRIES", 2)
    monkeypatch.setattr(tracking, "END_RETRY_WAIT_S", 0.2)


class KillServerAfter:
    """A progress sink that stops the tracking server after a given epoch."""

    def __init__(self, server: MlflowServer, epoch: int) -> None:
        self.server, self.at, self.stages = server, epoch, []

    def stage(self, text: str) -> None:
        self.stages.append(text)

    def notice(self, text: str) -> None:  # what the terminal shows even when stderr is piped
        self.stages.append(text)

    def epoch(self, epoch: int, epochs: int, train_loss: float, test_loss: float) -> None:
        if epoch == self.at:
            self.server.stop()


def test_server_lost_mid_run_then_sync_uploads_every_point_once(server, tmp_path, run_cli, capsys,
                                                               quick_end_retries):
    from mlflow.tracking import MlflowClient

    from quantrack import pipeline
    from quantrack.config import build_config

    out = tmp_path / "runs"
    cfg = build_config(epochs=5, methods="dynamic-int8", tracking_uri=server.url, out=str(out),
                       experiment="spool-test")
    progress = KillServerAfter(server, epoch=2)
    started = time.perf_counter()
    try:
        report = pipeline.run(cfg, progress)
    finally:
        if server.proc is None:
            server.start()  # same store, same port
    assert time.perf_counter() - started < 90 - (server.start_seconds or 0)
    run_id = report.mlflow["run_id"]
    entry = Path(report.mlflow["spooled_to"])
    assert entry == out / "spool" / run_id
    assert any("still unreachable" in s and "quantrack sync" in s for s in progress.stages)
    journal = json.loads((entry / "run.json").read_text())
    assert [p[3] for p in journal["metrics"] if p[0] == "train_loss"] == [1, 2, 3, 4, 5]
    assert journal["registry"]["name"] == "quantrack-digits-logreg"
    assert Path(report.out_dir, "report.json").is_file()  # the run's own output is complete too

    client = MlflowClient(server.url)
    assert client.get_run(run_id).info.status == "RUNNING"  # the server never heard the end

    assert run_cli("sync", "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert f"synced run {run_id}" in err
    assert "registry quantrack-digits-logreg: @champion moved to version 1: there was no @champion yet" in err
    assert not entry.exists()

    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    exp_runs = client.search_runs([run.info.experiment_id])
    parents = [r.info.run_id for r in exp_runs if "mlflow.parentRunId" not in r.data.tags]
    assert parents == [run_id]  # no second run
    children = [r for r in exp_runs if r.data.tags.get("mlflow.parentRunId") == run_id]
    assert sorted(r.data.tags["quantrack.variant"] for r in children) == ["dynamic-int8", "fp32"]
    for key, values in (("train_loss", report.train_loss), ("val_loss", report.val_loss)):
        hist = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        assert [m.step for m in hist] == [1, 2, 3, 4, 5]
        assert [m.value for m in hist] == pytest.approx(values)
    for child in children:
        assert len(client.get_metric_history(child.info.run_id, "accuracy")) == 1
        assert child.info.status == "FINISHED"
    assert run.data.tags["champion"] == report.champion
    top = {a.path for a in client.list_artifacts(run_id)}
    assert {"report", "models", "pyfunc"} <= top
    versions = client.search_model_versions(f"name='quantrack-digits-logreg' and run_id='{run_id}'")
    assert [v.tags["quantrack.variant"] for v in versions] == [report.champion]  # by default: the champion only
    champ = client.get_model_version_by_alias("quantrack-digits-logreg", "champion")
    assert champ.run_id == run_id and champ.tags["quantrack.variant"] == report.champion

    # Again: nothing left to do, and nothing duplicated.
    assert run_cli("sync", "--out", str(out)) == 0
    assert "nothing to sync" in capsys.readouterr().err
    assert len(client.get_metric_history(run_id, "train_loss")) == 5
    assert len(client.search_runs([run.info.experiment_id])) == 3  # the run and its two variants, once
    assert len(client.get_run(run_id).inputs.dataset_inputs) == 1  # logged at the start, replayed by sync


def test_offline_tracker_catches_up_at_the_end_without_duplicates(server, tmp_path, quick_end_retries):
    from mlflow.tracking import MlflowClient

    from quantrack.tracking.spool import upload
    from quantrack.tracking.tracker import Tracker

    tracker = Tracker(server.url, "catch-up")
    run_id = tracker.start(None, {"a": 1})
    tracker.log_metrics({"loss": 1.0}, step=1)
    tracker.flush()  # this point reaches the server
    tracker.offline_reason = "simulated outage"  # as after a network error
    tracker.log_metrics({"loss": 0.5}, step=2)
    tracker.flush()
    note = tmp_path / "note.txt"
    note.write_text("hello")
    tracker.log_artifact(note, "extra")
    assert tracker.end("FINISHED", spool_root=tmp_path / "spool") == "sent"  # the server is back: no spool
    assert not (tmp_path / "spool").exists()

    client = MlflowClient(server.url)
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [1, 2]
    assert client.get_run(run_id).info.status == "FINISHED"
    assert [a.path for a in client.list_artifacts(run_id, "extra")] == ["extra/note.txt"]
    upload(client, tracker.journal, base_dir=None)  # replaying the same journal changes nothing
    assert sorted(m.step for m in client.get_metric_history(run_id, "loss")) == [1, 2]


def test_sync_while_the_server_is_still_down_keeps_the_entry(tmp_path, run_cli, capsys):
    from quantrack.tracking.spool import write

    journal = {"run_id": "0123abcd", "experiment_name": "x", "tracking_uri": f"http://127.0.0.1:{free_port()}",
               "params": {}, "metrics": [["loss", 1.0, 1, 1]], "tags": {}, "artifacts": [], "registry": None}
    entry = write(journal, tmp_path / "runs" / "spool")
    started = time.perf_counter()
    assert run_cli("sync", "--out", str(tmp_path / "runs")) == 2
    assert time.perf_counter() - started < 10
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the MLflow server" in err[0]
    assert (entry / "run.json").is_file()


def test_spool_entry_is_self_contained(tmp_path):
    from quantrack.tracking.spool import entries, write

    src = tmp_path / "out" / "models"
    src.mkdir(parents=True)
    (src / "fp32.pt").write_bytes(b"weights")
    journal = {"run_id": "r1", "experiment_name": "x", "tracking_uri": "http://127.0.0.1:1", "params": {},
               "metrics": [], "tags": {}, "artifacts": [[str(src), "models", "dir"]], "registry": None}
    entry = write(journal, tmp_path / "spool")
    (src / "fp32.pt").unlink()  # the original output may be cleaned away: the spool keeps a copy
    record = json.loads((entry / "run.json").read_text())
    (rel, artifact_path, kind), = record["artifacts"]
    assert (entry / rel / "fp32.pt").read_bytes() == b"weights" and artifact_path == "models"
    assert entries(tmp_path / "spool") == [entry]


def _good_entry(tmp_path, run_id="r1"):
    from quantrack.tracking.spool import write

    src = tmp_path / "out" / "models"
    src.mkdir(parents=True, exist_ok=True)
    (src / "fp32.pt").write_bytes(b"weights")
    journal = {"run_id": run_id, "experiment_name": "x", "tracking_uri": f"http://127.0.0.1:{free_port()}",
               "params": {"lr": "0.01"}, "metrics": [["loss", 1.0, 1, 1]], "tags": {},
               "artifacts": [[str(src), "models", "dir"]], "registry": None}
    return write(journal, tmp_path / "runs" / "spool")


@pytest.mark.parametrize("damage,fragment", [
    (lambda e: (e / "run.json").write_text('{"run_id": "r1", "metr'), "unreadable (JSONDecodeError)"),
    (lambda e: (e / "run.json").write_bytes(b"\xff\xfe\x00garbage"), "unreadable (UnicodeDecodeError)"),
    (lambda e: (e / "run.json").write_text("[]"), "does not hold a run"),
    (lambda e: (e / "run.json").write_text("{}"), "'run_id' missing"),
    (lambda e: _edit(e, metrics=[["loss", "abc", 1, 1]]), "bad metric point"),
    (lambda e: _edit(e, params=None), "'params' missing or not a dict"),
    (lambda e: shutil.rmtree(e / "artifacts"), "is missing from the entry"),
])
def test_a_damaged_entry_is_one_line_and_stays_in_the_spool(tmp_path, run_cli, capsys, damage, fragment):
    entry = _good_entry(tmp_path)
    damage(entry)
    assert run_cli("sync", "--out", str(tmp_path / "runs")) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and fragment in err, err
    assert err.strip().splitlines()[-1].startswith("quantrack: error: 1 spooled run(s) could not be read")
    assert entry.is_dir()  # nothing is deleted: the user can repair it and sync again


def test_sync_of_a_folder_that_does_not_exist_is_an_error(tmp_path, run_cli, capsys):
    assert run_cli("sync", "--out", str(tmp_path / "no" / "such")) == 2
    assert "no such folder" in capsys.readouterr().err


def _edit(entry, **changes):
    record = json.loads((entry / "run.json").read_text())
    record.update(changes)
    (entry / "run.json").write_text(json.dumps(record))
