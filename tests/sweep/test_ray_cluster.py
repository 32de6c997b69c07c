"""`quantrack sweep --ray-address` joins a Ray head started separately with `ray start --head`;
a trial that fails is FAILED with its reason and the sweep goes on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servers import free_port

pytestmark = pytest.mark.slow


def _ray_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


@pytest.fixture
def ray_head(tmp_path):
    """`ray start --head --block` in its own process group: stopping it stops exactly the processes it
    started (`ray stop` would stop every Ray process of this machine, other people's included)."""
    port = free_port()
    env = _ray_env(tmp_path)
    log = open(tmp_path / "ray.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
                             "--port", str(port), "--num-cpus", "2", "--include-dashboard=false",
                             "--disable-usage-stats", "--node-ip-address", "127.0.0.1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"ray start exited: {(tmp_path / 'ray.log').read_text()[-2000:]}")
            if b"Ray runtime started" in (tmp_path / "ray.log").read_bytes():
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"ray head not up within 60 s: {(tmp_path / 'ray.log').read_text()[-2000:]}")
        yield f"127.0.0.1:{port}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)  # Ray's GCS takes ~30 s to stop gracefully; nothing of it needs saving
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)


def test_sweep_joins_a_ray_head_and_survives_a_failing_trial(ray_head, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # cnn needs square images: on iris those trials fail inside the worker, the logreg ones finish.
    cmd = [sys.executable, "-m", "quantrack", "sweep", "--ray-address", ray_head, "--dataset", "iris",
           "--model", "logreg,cnn", "--epochs", "2", "--methods", "dynamic-int8", "--tracking-uri", uri,
           "--out", str(tmp_path / "out"), "--max-concurrent", "2"]
    proc = subprocess.run(cmd, env=_ray_env(tmp_path), capture_output=True, text=True, timeout=150, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert f"joined at {ray_head}" in proc.stderr
    out = proc.stdout
    assert "trial-000" in out and "trial-001" in out and "champion: trial-000/" in out
    assert "trial-001 FAILED: QuantrackError: --model cnn applies only to square image data" in out

    (sweep_dir,) = (tmp_path / "out").glob("*-sweep-*")
    saved = json.loads((sweep_dir / "sweep.json").read_text())
    status = {t["name"]: t["status"] for t in saved["trials"]}
    assert status == {"trial-000": "FINISHED", "trial-001": "FAILED"}
    assert (sweep_dir / "sweep.html").read_text().count("<img") == 1

    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    failed = client.get_run(saved["trials"][1]["run_id"])
    assert failed.info.status == "FAILED"
    assert failed.data.tags["mlflow.parentRunId"] == saved["parent_run_id"]
    assert "square image data" in failed.data.tags["quantrack.failure"]
