"""Ctrl-C during a sweep: exit 130, every unfinished trial run and the parent KILLED, the Ray runtime
the sweep started shut down (none of its processes left)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from interrupts import default_ctrl_c

pytestmark = pytest.mark.slow


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# 127.0.0.1 and ::ffff:127.0.0.1 as /proc/net/tcp and tcp6 write them
LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F"}


def _listening_on(pids: list[int]) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp* has them) of the TCP sockets these processes listen on."""
    inodes = set()
    for pid in pids:
        try:
            inodes |= {os.readlink(fd)[8:-1] for fd in Path(f"/proc/{pid}/fd").iterdir()
                       if os.readlink(fd).startswith("socket:[")}
        except OSError:  # ended meanwhile
            continue
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.add(fields[1].split(":")[0])
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to follow the Ray processes")
def test_ctrl_c_kills_unfinished_trials_and_shuts_ray_down(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    client.search_experiments()  # the store exists before the sweep: our polling never races its creation
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0",
               PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # Long trials (20,000 epochs: minutes each even on a quiet machine), so the interrupt lands while
    # they train; the test stops them after a few seconds either way.
    proc = subprocess.Popen([sys.executable, "-m", "quantrack", "sweep", "--epochs", "20000", "--seed", "0,1,2",
                             "--methods", "dynamic-int8", "--tracking-uri", uri, "--out", str(tmp_path / "out"),
                             "--max-concurrent", "2"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=default_ctrl_c)
    try:
        deadline = time.monotonic() + 120
        running = []
        while time.monotonic() < deadline and len(running) < 2:
            time.sleep(1)
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            exp = client.get_experiment_by_name("quantrack")
            if exp:
                # trial runs only: a trial's variants are child runs of it too, and briefly RUNNING
                running = client.search_runs([exp.experiment_id], "tags.`mlflow.parentRunId` != '' "
                                                                   "and attributes.status = 'RUNNING' "
                                                                   "and attributes.run_name LIKE 'trial-%'")
        assert len(running) == 2, "two trials never ran at once"
        ray_pids = _descendants(proc.pid)
        assert ray_pids
        listening = _listening_on([proc.pid, *ray_pids])
        assert listening and listening <= LOOPBACK_HEX, f"the sweep's Ray runtime listens beyond loopback: {listening}"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 130, err[-3000:]
    assert "interrupted; the unfinished trials and the sweep's parent run are marked KILLED" in err
    assert "Traceback" not in err
    time.sleep(2)
    assert not [p for p in ray_pids if _alive(p)], "processes of the sweep's Ray runtime are still running"
    exp = client.get_experiment_by_name("quantrack")
    runs = client.search_runs([exp.experiment_id], "")
    assert runs and not [r for r in runs if r.info.status == "RUNNING"]
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.info.status == "KILLED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) >= 2 and all(r.info.status == "KILLED" for r in children)
    assert all("interrupted" in r.data.tags.get("quantrack.failure", "") for r in children)
    import tempfile

    assert not (Path(tempfile.gettempdir()) / f"quantrack-sweep-{parent.info.run_id}").exists()  # no trial folder left
