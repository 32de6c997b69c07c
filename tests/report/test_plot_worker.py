"""plot_worker: the child draws the same figures as in-process drawing, and every failure returns None."""

import subprocess
import sys

from quantrack.report import plot_worker
from quantrack.report import plots


def test_the_child_draws_the_same_bytes_as_drawing_in_process(synthetic_report, tmp_path):
    worker = plot_worker.PlotWorker()
    try:
        worker.submit(synthetic_report, tmp_path / "child")
        drawn = worker.result()
    finally:
        worker.close()
    here = plots.write_plots(synthetic_report, tmp_path / "here")
    assert drawn is not None
    assert [(p.name, p.title, p.caption) for p in drawn] == [(p.name, p.title, p.caption) for p in here]
    for a, b in zip(drawn, here, strict=True):
        assert a.path == tmp_path / "child" / f"{a.name}.png"
        assert a.path.read_bytes() == b.path.read_bytes()


def test_a_child_that_cannot_start_gives_none(synthetic_report, tmp_path, monkeypatch):
    monkeypatch.setattr(plot_worker, "_command", lambda: [str(tmp_path / "no-such-python")])
    worker = plot_worker.PlotWorker()
    worker.submit(synthetic_report, tmp_path / "plots")
    assert worker.result() is None
    worker.close()


def test_a_child_that_fails_gives_none(synthetic_report, tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    worker = plot_worker.PlotWorker()
    try:
        worker.submit(synthetic_report, tmp_path / "a-file" / "plots")  # mkdir fails in the child
        assert worker.result() is None
    finally:
        worker.close()


def test_a_child_that_hangs_is_killed_and_gives_none(synthetic_report, tmp_path, monkeypatch):
    monkeypatch.setattr(plot_worker, "_command", lambda: [sys.executable, "-c", "import time; time.sleep(60)"])
    worker = plot_worker.PlotWorker()
    worker.submit(synthetic_report, tmp_path / "plots")
    assert worker.result(timeout_s=0.5) is None
    assert worker._proc.poll() is not None  # killed, not left behind


def test_a_child_whose_answer_names_missing_files_gives_none(synthetic_report, tmp_path, monkeypatch):
    script = ("import json, sys; d = json.loads(sys.stdin.read())['directory']; "
              "print(json.dumps({'drawn': [{'name': 'loss', 'title': 't', 'caption': 'c', 'path': d + '/loss.png'}]}))")
    monkeypatch.setattr(plot_worker, "_command", lambda: [sys.executable, "-c", script])
    worker = plot_worker.PlotWorker()
    worker.submit(synthetic_report, tmp_path / "plots")
    assert worker.result() is None  # it claimed loss.png but never wrote it


def test_a_child_never_given_a_report_exits_on_its_own():
    proc = subprocess.Popen(plot_worker._command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out, _ = proc.communicate(b"", timeout=60)
    assert proc.returncode == 0 and out == b""
