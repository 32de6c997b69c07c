"""Ctrl-C ends a search cleanly with the best so far written; run again with the same cache, the
trials done before are cached and none re-runs. A search killed outright leaves no RUNNING run
after the next one starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from interrupts import default_ctrl_c

SCRIPT = Path(__file__).resolve().parent / "search_script.py"


def _env(tmp_path: Path, sleep: float) -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.update(FAKE_SLEEP=str(sleep), FAKE_LOG=str(tmp_path / "applies.jsonl"), OMP_NUM_THREADS="1")
    return env


def _start(tmp_path, out, sleep, *extra):
    return subprocess.Popen([sys.executable, str(SCRIPT), str(tmp_path / "cache"), str(tmp_path / out), *extra],
                            env=_env(tmp_path, sleep), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=default_ctrl_c)


def _read_until(proc, n_trials: int, timeout: float = 240) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if sum(x.startswith("trial ") for x in lines) >= n_trials:
            return lines
    raise AssertionError("the search did not get that far:\n" + "\n".join(lines))


def test_sigint_then_resume_marks_the_trials_cached(tmp_path):
    proc = _start(tmp_path, "first", 0.8)
    try:
        lines = _read_until(proc, 2)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    lines += rest.splitlines()
    assert proc.returncode == 0, "\n".join(lines)
    assert any(x.startswith("DONE interrupted") for x in lines), "\n".join(lines)
    first = json.loads((tmp_path / "first" / "report.json").read_text())["search"]
    assert first["stopped_because"] == "interrupted" and len(first["trials"]) >= 2
    done = {t["label"] for t in first["trials"]}

    applied_before = len((tmp_path / "applies.jsonl").read_text().splitlines())
    second = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "cache"), str(tmp_path / "second")],
                            env=_env(tmp_path, 0.0), capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stdout + second.stderr
    report = json.loads((tmp_path / "second" / "report.json").read_text())["search"]
    assert report["stopped_because"] == "exhausted"
    again = [t for t in report["trials"] if t["label"] in done]
    assert len(again) == len(done) and all(t["cached"] for t in again)
    assert not any(t["cached"] for t in report["trials"] if t["label"] not in done)
    out = second.stdout.splitlines()
    ran = [x for x in out if x.startswith("trial ") and "(cached)" not in x]
    assert not [x for x in ran if x.split(" ", 2)[2].split(":")[0] in done]  # none of them ran again
    applied = (tmp_path / "applies.jsonl").read_text().splitlines()[applied_before:]
    rebuilt = [x for x in out if x.startswith("rebuilding trial")]
    assert len(applied) == len(ran) + len(rebuilt)


def test_a_killed_search_leaves_no_running_run_after_the_next_start(tmp_path, sqlite_uri):
    proc = _start(tmp_path, "killed", 1.5, sqlite_uri)
    try:
        _read_until(proc, 1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    from mlflow.tracking import MlflowClient

    from quantrack.recipe_search.track import SearchTracking

    client = MlflowClient(tracking_uri=sqlite_uri)
    exp = client.get_experiment_by_name("quantrack")
    running = client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")
    assert len(running) == 1  # the killed search's parent run (its finished trials are FINISHED children)
    lines = []
    SearchTracking(sqlite_uri, "quantrack", lines.append)  # what the next search does first
    assert client.get_run(running[0].info.run_id).info.status == "KILLED"
    assert not client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")
    assert lines and "marked KILLED" in lines[0]
