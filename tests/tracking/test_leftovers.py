"""A run killed outright (SIGKILL) leaves a RUNNING run and a .partial-* folder; the next run or sync cleans up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


class Notices:
    def __init__(self):
        self.lines = []

    def stage(self, text):
        pass

    def notice(self, text):
        self.lines.append(text)

    def epoch(self, *args):
        pass


@pytest.mark.slow
def test_the_next_run_marks_a_killed_run_and_removes_its_folder(tmp_path):
    from mlflow.tracking import MlflowClient

    from quantrack import pipeline
    from quantrack.config import build_config

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "runs"
    env = dict(os.environ, PYTHONPATH=SRC)
    # Enough epochs that it is still training when killed.
    victim = subprocess.Popen([sys.executable, "-m", "quantrack", "run", "--epochs", "100000", "--methods", "fp16",
                               "--tracking-uri", uri, "--out", str(out)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while not (out.is_dir() and any(p.name.startswith(".partial-") for p in out.iterdir())):
            assert victim.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.2)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    client = MlflowClient(uri)
    (left,) = [r for r in client.search_runs([client.get_experiment_by_name("quantrack").experiment_id])
               if "mlflow.parentRunId" not in r.data.tags]
    assert left.info.status == "RUNNING" and left.data.tags["quantrack.pid"] == str(victim.pid)
    (partial,) = [p for p in out.iterdir() if p.name.startswith(".partial-")]

    # Another run that is alive must be left alone, whatever its state.
    alive = client.create_run(left.info.experiment_id, tags={"quantrack.host": left.data.tags["quantrack.host"],
                                                             "quantrack.pid": str(os.getpid()),
                                                             "quantrack.pid_start": "0"})
    notices = Notices()
    pipeline.run(build_config(epochs=1, methods="fp16", tracking_uri=uri, out=str(out), register=False,
                              latency_budget_s=0.05), notices)
    assert client.get_run(left.info.run_id).info.status == "KILLED"
    assert client.get_run(alive.info.run_id).info.status == "RUNNING"
    assert not partial.exists()
    (line,) = [n for n in notices.lines if "killed" in n]
    assert f"run {left.info.run_id} marked KILLED" in line and partial.name in line


def test_sync_removes_a_dead_processs_folders_and_spares_a_live_ones(tmp_path, run_cli, capsys):
    from quantrack.tracking.leftovers import _host, _start_time

    out = tmp_path / "runs"
    (out / "spool").mkdir(parents=True)
    dead = out / f".partial-20260101-000000-ab--{_host()}-{_dead_pid()}-123"
    spool_dead = out / "spool" / f".partial-0123abcd--{_host()}-{_dead_pid()}-0"
    live = out / f".partial-20260101-000000-cd--{_host()}-{os.getpid()}-{_start_time(os.getpid())}"
    other_host = out / f".partial-20260101-000000-ef--elsewhere.example-{_dead_pid()}-1"
    for p in (dead, spool_dead, live, other_host):
        p.mkdir()
    assert run_cli("sync", "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert not dead.exists() and not spool_dead.exists() and live.exists() and other_host.exists()
    assert err.count("leftovers of a killed quantrack") == 1 and dead.name in err


def test_a_reused_pid_is_not_mistaken_for_the_owner():
    from quantrack.tracking.leftovers import _host, _start_time, is_gone

    me = os.getpid()
    assert not is_gone(_host(), me, _start_time(me))
    if _start_time(me):  # Linux: the same pid with another start time is another process
        assert is_gone(_host(), me, _start_time(me) + 1)
    assert not is_gone("another-host", _dead_pid(), 0)


_LEAVE_A_RUN = """
import sys, time
from quantrack.tracking.tracker import Tracker
uri, experiment, kind = sys.argv[1:4]
parent = Tracker(uri, experiment)
parent.start("killed-" + kind, {}, tags={"quantrack.kind": kind})
if kind == "sweep":  # a trial of it, running too
    trial = Tracker(uri, experiment)
    trial.start("trial-000", {}, tags={"mlflow.parentRunId": parent.run_id})
print(parent.run_id, flush=True)
time.sleep(600)
"""


def _killed_outright(uri: str, experiment: str, kind: str) -> list[str]:
    """A real quantrack process with its runs RUNNING on the store, then SIGKILL: nothing of it can clean up."""
    proc = subprocess.Popen([sys.executable, "-c", _LEAVE_A_RUN, uri, experiment, kind], env=dict(os.environ, PYTHONPATH=SRC),
                            stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()  # its runs exist
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert {r.info.status for r in runs} == {"RUNNING"} and {r.data.tags["quantrack.pid"] for r in runs} == {str(proc.pid)}
    return [r.info.run_id for r in runs]


def _statuses(uri: str, run_ids: list[str]) -> set[str]:
    from mlflow.tracking import MlflowClient

    return {MlflowClient(uri).get_run(r).info.status for r in run_ids}


@pytest.mark.slow
def test_a_killed_compare_is_marked_killed_by_the_next_tracked_compare(tmp_path):
    import torch

    from quantrack import compare

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    left = _killed_outright(uri, "cmp", "compare")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    X, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    notices = Notices()
    report = compare(model, calibration=(X, y), eval_data=(X, y), methods=["dynamic-int8"], tracking=uri,
                     experiment="cmp", latency_budget_s=0.02, progress=notices)
    assert _statuses(uri, left) == {"KILLED"}
    assert _statuses(uri, [report.mlflow["run_id"]]) == {"FINISHED"}
    (line,) = [n for n in notices.lines if "killed" in n]
    assert left[0] in line


@pytest.mark.slow
def test_a_killed_sweep_is_marked_killed_when_the_next_sweep_starts(tmp_path, monkeypatch):
    from quantrack.errors import QuantrackError
    from quantrack.sweep import ray_runtime
    from quantrack.sweep.runner import run_sweep
    from quantrack.sweep.space import build_space

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    left = _killed_outright(uri, "swp", "sweep")
    assert len(left) == 2  # the parent run and one trial
    out = tmp_path / "runs"
    out.mkdir()
    from quantrack.tracking.leftovers import _host

    partial = out / f".partial-20260101-000000-ab--{_host()}-{_dead_pid()}-1"  # a trial's unfinished folder
    partial.mkdir()

    def no_ray(*args, **kwargs):  # the cleaning is done by then; Ray itself is not under test here
        raise QuantrackError("stopped before Ray")

    monkeypatch.setattr(ray_runtime, "start", no_ray)
    lines = []
    base = {"epochs": 1, "methods": "dynamic-int8", "tracking_uri": uri, "experiment": "swp", "out": str(out),
            "register": False}
    space = build_space(base, {"lr": "0.01,0.05"})
    with pytest.raises(QuantrackError, match="stopped before Ray"):
        run_sweep({k: v for k, v in base.items() if k not in space.values}, space, say=lines.append)
    assert _statuses(uri, left) == {"KILLED"}
    assert not partial.exists()
    assert any(left[0] in line and left[1] in line for line in lines)


_KILLED_WHILE_REGISTERING = """
import sys, time
from quantrack.tracking.tracker import Tracker
uri = sys.argv[1]
tracker = Tracker(uri, "reg")
tracker.start("victim", {})
tracker.register({"name": "killed-model", "champion": "fp32", "alias": "champion", "promote": True,
                  "versions": [{"variant": "fp32", "artifact_path": "models", "accuracy": 0.9}]})
print(tracker.versions["fp32"], flush=True)  # registered, aliases moved; the run is not finished
time.sleep(600)
"""


@pytest.mark.slow
def test_a_run_killed_while_registering_has_its_versions_undone_and_the_aliases_put_back(tmp_path):
    """As for a run that fails after registering (tests/test_pipeline_rollback.py), but with SIGKILL: the
    process cannot undo anything itself, so the next start does."""
    from mlflow.tracking import MlflowClient

    from quantrack.tracking.leftovers import clean_leftovers
    from quantrack.tracking.tracker import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    good = Tracker(uri, "reg")
    good.start("good", {})
    good.register({"name": "killed-model", "champion": "fp32", "alias": "champion",
                   "versions": [{"variant": "fp32", "artifact_path": "models", "accuracy": 0.9}]})
    good.end("FINISHED")
    client = MlflowClient(uri)
    assert {a: str(v) for a, v in client.get_registered_model("killed-model").aliases.items()} == \
        {"champion": "1", "challenger": "1"}

    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WHILE_REGISTERING, uri], env=dict(os.environ, PYTHONPATH=SRC),
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "2"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert {a: str(v) for a, v in client.get_registered_model("killed-model").aliases.items()} == \
        {"champion": "2", "challenger": "2"}  # what the killed run left: its version shipped

    next_one = Tracker(uri, "reg")  # the next quantrack process on this store, before its own run
    next_one.check()
    line = clean_leftovers(next_one)
    assert line and "marked KILLED" in line
    assert [str(v.version) for v in client.search_model_versions("name='killed-model'")] == ["1"]
    assert {a: str(v) for a, v in client.get_registered_model("killed-model").aliases.items()} == \
        {"champion": "1", "challenger": "1"}


def test_an_alias_moved_by_a_later_run_is_not_put_back():
    """Only aliases still on the killed run's versions are restored; a newer run's move stands."""
    from quantrack.tracking.leftovers import registry_note, undo_registration

    class Registry:
        def __init__(self):
            self.versions = {"1": "old-run", "2": "killed", "3": "newer-run"}
            self.aliases = {"champion": "3", "challenger": "2"}

        def search_model_versions(self, where):
            run = where.split("run_id='")[1].rstrip("'") if "run_id" in where else None
            return [type("MV", (), {"version": v})() for v, r in self.versions.items() if run in (None, r)]

        def get_registered_model(self, name):
            return type("RM", (), {"aliases": dict(self.aliases)})()

        def delete_model_version(self, name, version):
            del self.versions[version]
            self.aliases = {a: v for a, v in self.aliases.items() if v != version}

        def set_registered_model_alias(self, name, alias, version):
            self.aliases[alias] = version

    registry = Registry()
    note = registry_note("m", {"existed": True, "aliases": {"champion": "1", "challenger": "1"}})
    assert undo_registration(registry, "killed", note) == ["2"]
    assert registry.aliases == {"champion": "3", "challenger": "1"}
