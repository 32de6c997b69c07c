"""The RunTracker contract, checked the same way on every implementation (optuna's storage tests are
the model): the MLflow Tracker on a fresh SQLite store, read back through MlflowClient, and the
MemoryTracker, read back from its records. compare and pipeline tests that use the MemoryTracker
rely on it behaving as the real one does here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quantrack.core.tracking import RunTracker
from quantrack.tracking.report_run import log_report

IMPLEMENTATIONS = ("sqlite", "memory")


class Backend:
    """Makes a tracker and reads back what it holds, in one shape for every implementation."""

    def __init__(self, kind: str, store: Path) -> None:
        self.kind = kind
        self.uri = f"sqlite:///{store / 'mlflow.db'}"

    def tracker(self) -> RunTracker:
        if self.kind == "memory":
            from quantrack.tracking.memory import MemoryTracker

            return MemoryTracker("contract")
        from quantrack.tracking.tracker import Tracker

        return Tracker(self.uri, "contract")

    def read(self, tracker) -> dict:
        """{params, metrics: {key: [(step, value)]}, tags, artifacts: {path}, children: {variant: metrics}, status}."""
        if self.kind == "memory":
            return {"params": dict(tracker.params), "metrics": {k: sorted(v) for k, v in tracker.metrics.items()},
                    "tags": dict(tracker.tags), "artifacts": tracker.artifact_paths(),
                    "children": {v: c["metrics"] for v, c in tracker.children.items()},
                    "child_tags": {v: c["tags"] for v, c in tracker.children.items()}, "status": tracker.status}
        from mlflow.tracking import MlflowClient

        client = MlflowClient(self.uri)
        run = client.get_run(tracker.run_id)
        metrics = {k: sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, k))
                   for k in run.data.metrics}
        children = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")
        return {"params": dict(run.data.params), "metrics": metrics, "tags": dict(run.data.tags),
                "artifacts": _listing(client, run.info.run_id),
                "children": {c.data.tags["quantrack.variant"]: dict(c.data.metrics) for c in children},
                "child_tags": {c.data.tags["quantrack.variant"]: dict(c.data.tags) for c in children},
                "status": run.info.status}


def _listing(client, run_id: str, path: str | None = None) -> set[str]:
    out = set()
    for f in client.list_artifacts(run_id, path):
        out |= _listing(client, run_id, f.path) if f.is_dir else {f.path}
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """One SQLite store for the module (creating one runs ~70 migrations); each test reads its own run."""
    return tmp_path_factory.mktemp("contract-store")


@pytest.fixture(params=IMPLEMENTATIONS)
def backend(request, store) -> Backend:
    return Backend(request.param, store)


def test_it_is_a_run_tracker(backend):
    tracker = backend.tracker()
    assert isinstance(tracker, RunTracker)
    tracker.check()
    assert tracker.online and tracker.run_id is None


def test_params_tags_and_metrics_by_step(backend):
    tracker = backend.tracker()
    run_id = tracker.start("contract-run", {"epochs": 3, "hidden": [8, 4], "lr": 0.5}, tags={"data.rows": 30})
    assert run_id == tracker.run_id and tracker.info["run_id"] == run_id
    for step in (1, 2, 3):
        tracker.log_metrics({"train_loss": 1.0 / step, "skipped": None}, step=step)
    tracker.log_metrics({"best_epoch": 3})
    tracker.flush()
    tracker.set_tags({"champion": "fp16"})
    tracker.set_tags({"champion": "dynamic-int8", "n": 2})  # a later value wins; values become text
    assert tracker.end("FINISHED") == "sent"
    got = backend.read(tracker)
    assert {k: got["params"][k] for k in ("epochs", "hidden", "lr")} == {"epochs": "3", "hidden": "8,4", "lr": "0.5"}
    assert got["metrics"]["train_loss"] == [(1, 1.0), (2, 0.5), (3, 1 / 3)]
    assert got["metrics"]["best_epoch"] == [(0, 3.0)] and "skipped" not in got["metrics"]
    assert got["tags"]["champion"] == "dynamic-int8" and got["tags"]["n"] == "2" and got["tags"]["data.rows"] == "30"
    assert got["status"] == "FINISHED"


def test_a_report_is_logged_as_children_tags_and_artifacts(backend, synthetic_report, tmp_path):
    """What compare and `quantrack run` log of a Report, through tracking/report_run.py."""
    folder = tmp_path / "out"
    files = synthetic_report.save(folder)
    models = folder / "models"
    models.mkdir()
    (models / "fp32.pt").write_bytes(b"weights")
    synthetic_report.sensitivity = {"dynamic-int8": [{"layer": "linear", "params": 650, "drop": 0.02,
                                                      "kept_float": False}]}
    synthetic_report.sensitivity_cost = {"dynamic-int8": {"evaluations": 1}}
    tracker = backend.tracker()
    tracker.start(None, {"epochs": 4})
    log_report(tracker, synthetic_report, folder, files, models)
    tracker.end("FINISHED")
    got = backend.read(tracker)
    assert set(got["children"]) == {"fp32", "dynamic-int8", "onnx-int8-static"}
    assert got["children"]["dynamic-int8"]["payload_bytes"] == 680 and got["children"]["onnx-int8-static"] == {}
    assert got["child_tags"]["onnx-int8-static"]["verdict"] == "unavailable"
    assert got["child_tags"]["dynamic-int8"]["quantrack.champion"] == "true"
    assert got["tags"]["champion"] == "dynamic-int8" and got["tags"]["champion_rule"] == "point-estimate"
    assert got["tags"]["mlflow.note.content"].startswith("**champion: dynamic-int8**")
    assert got["tags"]["cpu.flags"] == "avx2" and got["tags"]["cpu.quantized_engine"] == "x86"
    assert got["metrics"]["sensitivity.dynamic-int8.linear.drop"] == [(0, 0.02)]
    assert {"report/report.json", "report/report.md", "report/report.html", "report/sensitivity.json",
            "models/fp32.pt"} <= got["artifacts"]
    assert any(p.startswith("report/plots/") and p.endswith(".png") for p in got["artifacts"])
    saved = json.loads((folder / "report.json").read_text())
    assert saved["champion"] == got["tags"]["champion"]


def test_a_failed_run_is_marked_failed_with_what_it_logged(backend):
    tracker = backend.tracker()
    tracker.start(None, {})
    tracker.log_metrics({"train_loss": 0.5}, step=1)  # buffered, not yet flushed
    tracker.fail()
    got = backend.read(tracker)
    assert got["status"] == "FAILED" and got["metrics"]["train_loss"] == [(1, 0.5)]


def test_no_run_of_a_live_process_is_marked_killed(backend, tmp_path):
    running = backend.tracker()
    running.start(None, {})  # RUNNING, owned by this (live) process
    tracker = backend.tracker()
    tracker.check()
    assert tracker.mark_dead_runs(tmp_path / "spool") == []
    assert backend.read(running)["status"] == "RUNNING"
    running.end("FINISHED")
