"""Trials as Ray tasks: a local runtime (workers=2) and an existing cluster (ray_address) give the
same trials, statuses and selection scores as the search run in this process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fake_methods as fm
import quantrack

pytestmark = pytest.mark.slow

METHODS = ["dynamic-int8", "onnx-int8-dynamic", "fp16"]  # registered methods: a Ray worker imports the registry


@pytest.fixture(scope="module")
def data():
    return fm.data_and_model(rows=800)


def _search(data, **kw):
    model, X, y = data
    return quantrack.search(model, calibration=X[:200], eval_data=(X[200:], y[200:]), max_drop=0.05,
                            objective="size", methods=METHODS, latency_budget_s=0.05, model_kind="mlp", **kw)


def _same(a, b):
    def key(r):
        return [(t["label"], t["status"], t["score"], t["file_bytes"]) for t in
                sorted(r.search["trials"], key=lambda t: t["label"])]

    assert key(a) == key(b)
    assert (a.search["selection_rows"], a.search["held_out_rows"]) == (b.search["selection_rows"],
                                                                       b.search["held_out_rows"])


@pytest.fixture(scope="module")
def local(data):
    return _search(data)


def test_local_ray_runtime_gives_the_same_trials(data, local):
    on_ray = _search(data, workers=2)
    assert on_ray.search["ran_on"] == "ray" and local.search["ran_on"] == "local"
    _same(local, on_ray)


@pytest.fixture
def ray_head(tmp_path):
    from servers import free_port

    port = free_port()
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0",
               PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    log = open(tmp_path / "ray.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--port",
                             str(port), "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats",
                             "--node-ip-address", "127.0.0.1"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log.close()
    try:
        deadline = time.monotonic() + 90
        while b"Ray runtime started" not in (tmp_path / "ray.log").read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "ray.log").read_text()[-2000:])
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_an_existing_cluster_gives_the_same_trials(data, local, ray_head):
    on_cluster = _search(data, ray_address=ray_head)
    assert on_cluster.search["ran_on"] == "ray"
    _same(local, on_cluster)
