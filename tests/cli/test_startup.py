"""A fresh `quantrack` process: --help imports no heavy library, exit codes survive the quick exit,
and a cold run works with its helper processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

PROBE = """
import sys
from quantrack.cli.app import main  # what `quantrack` runs, without its os._exit so this can report
try:
    main(["--help"])
except SystemExit as e:
    assert not e.code, e.code
print("HEAVY=" + ",".join(m for m in ("torch", "mlflow", "sklearn", "pandas", "onnxruntime", "matplotlib", "numpy")
                           if m in sys.modules), file=sys.stderr)
"""


def test_help_imports_no_heavy_library():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout and "run" in proc.stdout
    heavy = next(line for line in proc.stderr.splitlines() if line.startswith("HEAVY="))
    assert heavy == "HEAVY=", f"--help imported {heavy.removeprefix('HEAVY=')}"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "quantrack", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_the_quick_exit_keeps_exit_codes_and_flushes_output():
    ok = _cli("--version")
    assert ok.returncode == 0 and ok.stdout.startswith("quantrack ")
    bad = _cli("run", "--epochs", "0")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == ["quantrack: error: --epochs must be a positive integer, got 0"]


@pytest.mark.slow
def test_a_fresh_process_runs_with_its_helper_processes(tmp_path):
    """A cold `quantrack run` creates the store and draws the plots in helper processes (see pipeline.py)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = _cli("run", "--epochs", "2", "--methods", "dynamic-int8", "--no-register", "--tracking-uri", uri,
                "--out", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if p.name != "spool"]
    assert sorted(p.name for p in (run_dir / "plots").iterdir()) == [
        "accuracy_vs_size.png", "confusion.png", "latency.png", "loss.png"]
    runs = MlflowClient(tracking_uri=uri).search_runs([MlflowClient(tracking_uri=uri).get_experiment_by_name(
        "quantrack").experiment_id])
    assert [r.info.status for r in runs] == ["FINISHED"] * 3  # the training run and its 2 variants' child runs
    assert sum("mlflow.parentRunId" not in r.data.tags for r in runs) == 1


def test_a_fresh_process_with_an_unusable_store_still_fails_in_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    proc = _cli("run", "--tracking-uri", f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}", "--out", str(tmp_path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quantrack: error:"), proc.stderr
