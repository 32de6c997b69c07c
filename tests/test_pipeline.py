"""pipeline.run in-process: a failing method, plot child or registration costs nothing else, leaves nothing behind."""

import dataclasses
import sys
import time
from pathlib import Path

import pytest

from quantrack import pipeline
from quantrack.config import build_config


@pytest.mark.slow
def test_a_method_that_crashes_is_reported_unavailable_and_the_others_still_run(tmp_path, sqlite_uri, monkeypatch):
    import quantrack.methods as registry

    real = registry.get_method

    def get_method(name):
        method = real(name)
        if name == "onnx-fp32":
            def explode(ctx):
                raise RuntimeError("kernel not found\nsecond line of a long trace")
            return dataclasses.replace(method, apply=explode)
        return method

    monkeypatch.setattr(registry, "get_method", get_method)
    cfg = build_config(epochs=2, methods="dynamic-int8,onnx-fp32", tracking_uri=sqlite_uri, out=str(tmp_path / "runs"),
                       register=False, latency_budget_s=0.05)
    report = pipeline.run(cfg)
    broken = report.variant("onnx-fp32")
    assert not broken.available and broken.reason == "failed: RuntimeError: kernel not found"
    assert report.variant("dynamic-int8").available and report.variant("dynamic-int8").accuracy > 0.5
    assert sorted(p.name for p in Path(report.out_dir, "models").iterdir()) == ["dynamic-int8.pt", "fp32.pt"]


@pytest.mark.slow
def test_every_variant_is_judged_side_by_side_with_fp32(tmp_path, sqlite_uri):
    cfg = build_config(epochs=2, methods="dynamic-int8", tracking_uri=sqlite_uri, out=str(tmp_path / "runs"),
                       register=False, latency_budget_s=0.05)
    report = pipeline.run(cfg)
    fp32, int8 = report.variants
    for lat in fp32.latency:
        assert lat.verdict is None and lat.speedup is None and lat.windows is None
    for lat in int8.latency:
        assert lat.windows >= 6 and lat.speedup_p25 <= lat.speedup <= lat.speedup_p75
        assert lat.verdict in ("faster", "slower", "no measurable difference")
        assert lat.threads == 1


@pytest.mark.slow
def test_the_plots_are_drawn_by_the_child_and_in_process_when_it_fails(tmp_path, sqlite_uri, monkeypatch):
    from quantrack.report import plot_worker
    from quantrack.report import plots

    def must_not_draw(report, directory):
        raise AssertionError("drawn in-process although the child was working")

    cfg = build_config(epochs=2, methods="dynamic-int8", tracking_uri=sqlite_uri, out=str(tmp_path / "runs"),
                       register=False, latency_budget_s=0.05)
    with monkeypatch.context() as m:
        m.setattr(plots, "write_plots", must_not_draw)
        by_child = pipeline.run(cfg)
    monkeypatch.setattr(plot_worker, "_command", lambda: [sys.executable, "-c", "raise SystemExit(3)"])
    in_process = pipeline.run(cfg)
    for report in (by_child, in_process):
        names = sorted(p.name for p in Path(report.out_dir, "plots").iterdir())
        assert names == ["accuracy_vs_size.png", "confusion.png", "latency.png", "loss.png"]
        assert "plots/loss.png" in Path(report.out_dir, "report.md").read_text()


@pytest.mark.slow
def test_a_failure_while_the_child_draws_leaves_no_folder_behind(tmp_path, sqlite_uri, monkeypatch):
    from quantrack.report import plot_worker
    from quantrack.tracking.tracker import Tracker
    from quantrack.errors import QuantrackError

    # A child that never stops drawing: it rewrites its PNG until it is killed.
    busy = ("import json, pathlib, sys\nd = pathlib.Path(json.loads(sys.stdin.read())['directory'])\nwhile True:\n"
            "    d.mkdir(parents=True, exist_ok=True)\n    (d / 'loss.png').write_bytes(b'x')")
    monkeypatch.setattr(plot_worker, "_command", lambda: [sys.executable, "-c", busy])

    def broken_logging(*args, **kwargs):  # the child runs are logged while the plots are drawn
        raise QuantrackError("simulated failure while logging the variants")

    monkeypatch.setattr(Tracker, "log_children", broken_logging)
    out = tmp_path / "runs"
    cfg = build_config(epochs=2, methods="dynamic-int8", tracking_uri=sqlite_uri, out=str(out),
                       latency_budget_s=0.05)
    with pytest.raises(QuantrackError, match="simulated failure"):
        pipeline.run(cfg)
    time.sleep(0.5)  # a child left running would write again meanwhile
    assert [p.name for p in out.iterdir()] == []


@pytest.mark.slow
def test_a_child_run_and_its_timing_gate(tmp_path, sqlite_uri):
    """parent_run_id links the run under a parent (a sweep's); the gate is held around every latency measurement
    and nowhere else (batch 1 and the whole test split, for fp32 and for each variant)."""
    import contextlib

    from mlflow.tracking import MlflowClient

    client = MlflowClient(sqlite_uri)
    parent = client.create_run(client.create_experiment("quantrack"), run_name="sweep").info.run_id
    held: list[str] = []
    timing_calls: list[bool] = []

    @contextlib.contextmanager
    def gate():
        held.append("in")
        yield
        held.append("out")

    import quantrack.evaluate.timing as timing

    real_calls, real_against = timing.time_calls, timing.time_against

    def spy(real):
        def wrapped(*args, **kwargs):
            timing_calls.append(held[-1:] == ["in"])
            return real(*args, **kwargs)
        return wrapped

    timing.time_calls, timing.time_against = spy(real_calls), spy(real_against)
    try:
        cfg = build_config(epochs=2, methods="dynamic-int8", tracking_uri=sqlite_uri, out=str(tmp_path / "runs"),
                           register=False, latency_budget_s=0.05)
        report = pipeline.run(cfg, parent_run_id=parent, timing_gate=gate)
    finally:
        timing.time_calls, timing.time_against = real_calls, real_against
    assert held == ["in", "out"] * 4  # 2 variants x 2 batch sizes
    assert timing_calls == [True] * 4  # every measurement happened inside the gate
    assert client.get_run(report.mlflow["run_id"]).data.tags["mlflow.parentRunId"] == parent


def test_one_path_without_a_store_the_report_compare_returns_is_the_one_saved_and_logged(tmp_path):
    """pipeline.run against the in-memory tracker: training facts added to compare's Report, logged once."""
    import json

    from quantrack.tracking.memory import MemoryTracker

    tracker = MemoryTracker()
    cfg = build_config(dataset="iris", epochs=3, methods="fp16", out=str(tmp_path / "runs"), register=False,
                       latency_budget_s=0.02, max_accuracy_drop=2)
    report = pipeline.run(cfg, tracker=tracker)
    saved = json.loads(Path(report.out_dir, "report.json").read_text())
    assert saved == json.loads(json.dumps(report.to_dict()))  # the returned Report is the one written
    assert saved["best_epoch"] == report.best_epoch and len(saved["val_loss"]) == 3 and saved["split"]["test"] == 30
    assert saved["budget"]["max_drop"] == 0.02 and saved["config"]["max_accuracy_drop"] == 2.0
    assert report.mlflow["run_id"] == tracker.run_id and tracker.status == "FINISHED"
    assert [s for s, _ in tracker.metrics["train_loss"]] == [1, 2, 3] and "best_epoch" in tracker.metrics
    assert sorted(tracker.children) == ["fp16", "fp32"] and tracker.tags["champion"] == report.champion
    assert tracker.params["epochs"] == "3" and tracker.datasets[0][0] == "iris"
    paths = [str(Path(where or "", Path(local).name)) for local, where in tracker.artifacts]
    assert len(paths) == len(set(paths))  # nothing logged twice
    assert {"report/report.json", "models/fp32.pt", "models/fp16.pt"} <= set(paths)
    # artifacts point into the run's final folder, not the staging one it was renamed from
    assert all(Path(local).exists() for local, _ in tracker.artifacts)
