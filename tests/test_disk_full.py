"""A disk that fills up during a run: one line saying so (exit 2, not "unexpected OSError", exit 1),
the MLflow run FAILED, nothing half-written left in --out, nothing registered."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_a_full_disk_is_recognised_through_the_errors_that_wrap_it():
    from quantrack.errors import disk_full

    assert disk_full(ValueError("x")) is None
    plain = OSError(errno.ENOSPC, "No space left on device", "/out/report.html")
    assert "holding /out/report.html" in disk_full(plain)
    try:
        try:
            raise plain
        except OSError as inner:
            raise RuntimeError("failed to log artifact") from inner  # as a library wraps it
    except RuntimeError as outer:
        assert disk_full(outer) is not None
    assert disk_full(Exception("(sqlite3.OperationalError) database or disk is full")) is not None
    line = disk_full(OSError(getattr(errno, "EDQUOT", 122), "Disk quota exceeded"))
    assert line is not None and "\n" not in line


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs, all but ~40 KB of it taken: the run's first files fill it. Needs root (mount)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        with open(disk / "filler", "wb") as f:
            f.write(b"\0" * (2 * 1024 * 1024 - 40 * 1024))
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.slow
def test_a_run_whose_disk_fills_up_ends_in_one_line_and_leaves_nothing(tmp_path, tiny_disk):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the store has room; --out does not
    out = tiny_disk / "runs"
    proc = subprocess.run([sys.executable, "-m", "quantrack", "run", "--epochs", "2", "--methods", "dynamic-int8",
                           "--tracking-uri", uri, "--out", str(out), "--model-name", "full-disk"],
                          cwd=tmp_path, env=dict(os.environ, PYTHONPATH=SRC), capture_output=True, text=True,
                          timeout=600)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("quantrack: error:")]
    assert proc.returncode == 2, proc.stderr[-1500:]
    assert len(errors) == 1 and "no space left on the device" in errors[0], proc.stderr[-1500:]
    assert proc.stderr.strip().splitlines()[-1] == errors[0] and "Traceback" not in proc.stderr
    assert [p.name for p in out.iterdir()] == []  # no .partial-* folder, no run folder
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("quantrack").experiment_id],
                                "tags.`quantrack.pid` != ''")
    assert run.info.status == "FAILED"
    assert client.search_model_versions("name='full-disk'") == []
