"""The timing gate admits one holder per machine, across processes, and survives pickling."""

import multiprocessing
import pickle
import time

from quantrack.sweep.gate import TimingGate


def _hold(path, seconds, log):
    gate = TimingGate(path)
    with gate():
        log.put(("in", time.monotonic()))
        time.sleep(seconds)
        log.put(("out", time.monotonic()))


def test_two_processes_never_hold_the_gate_at_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    log = ctx.Queue()
    path = str(tmp_path / "gate.lock")
    procs = [ctx.Process(target=_hold, args=(path, 0.3, log)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    events = sorted((log.get(timeout=5) for _ in range(4)), key=lambda e: e[1])
    assert [e[0] for e in events] == ["in", "out", "in", "out"]


def test_gate_pickles_as_its_path(tmp_path):
    gate = pickle.loads(pickle.dumps(TimingGate(tmp_path / "g.lock")))
    with gate():
        pass
    assert gate.path == str(tmp_path / "g.lock")
