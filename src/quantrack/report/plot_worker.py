"""Draw the report's figures in a child process, so they overlap with registration.

Why: matplotlib costs ~0.35 s to import and ~0.65 s to draw the four figures, all on the
critical path of a ~6 s run, while the second core sits idle. The child is started early
(it imports matplotlib while the parent imports torch and trains), then sleeps on stdin
until the parent sends it the finished Report; it draws while the parent registers the
variants. Any failure (cannot start, crashes, hangs past a bound) returns None and the
caller draws in-process: the same code, so the same bytes, only slower.

Nothing is drawn while latency is being measured: the child is idle on its stdin until then.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from quantrack.report.plots import Plot
from quantrack.report.document import Report

WAIT_S = 300.0  # a drawing that takes longer than this is abandoned and redone in-process


class PlotWorker:
    """One child process that draws one Report; ``close()`` it whatever happens."""

    def __init__(self) -> None:
        self._directory: Path | None = None
        try:
            # stderr is discarded: on any failure the in-process fallback shows the real error.
            self._proc: subprocess.Popen | None = subprocess.Popen(
                _command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:
            self._proc = None

    def submit(self, report: Report, directory: Path) -> None:
        """Hand the report over; returns at once (the child has long finished importing)."""
        if self._proc is None:
            return
        request = json.dumps({"directory": str(directory), "report": report.to_dict()})
        try:
            self._proc.stdin.write(request.encode())
            self._proc.stdin.close()
            self._directory = directory
        except OSError:  # the child died early (BrokenPipeError)
            self.close()

    def draw(self, report: Report, directory: Path) -> list[Plot] | None:
        """submit, then wait for the result: what Report.save's ``plots`` takes (None: draw in-process)."""
        self.submit(report, directory)
        return self.result()

    def result(self, timeout_s: float = WAIT_S) -> list[Plot] | None:
        """The figures the child drew, or None if it did not deliver them."""
        if self._proc is None or self._directory is None:
            return None
        try:
            # The child's answer is a few names, far below a pipe's buffer: it can exit unread.
            code = self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.close()
            return None
        if code != 0:
            return None
        try:
            plots = [Plot(d["name"], d["title"], d["caption"], Path(d["path"]))
                     for d in json.loads(self._proc.stdout.read())["drawn"]]
        except (ValueError, KeyError, TypeError):
            return None
        if not all(p.path.parent == self._directory and p.path.is_file() for p in plots):
            return None
        return plots

    def close(self) -> None:
        """Stop the child if it still runs; safe to call twice."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def _command() -> list[str]:
    """-P keeps the working directory off sys.path: a folder named "quantrack" there cannot shadow us."""
    return [sys.executable, "-P", "-m", "quantrack.report.plot_worker"]


def _serve() -> int:
    """The child: import matplotlib now, then draw the one Report that arrives on stdin."""
    import matplotlib.figure  # noqa: F401  the slow import, done before the parent needs it

    from quantrack.report.plots import write_plots

    raw = sys.stdin.buffer.read()
    if not raw:  # the parent went away, or ended before it had a report
        return 0
    request = json.loads(raw)
    drawn = write_plots(Report.from_dict(request["report"]), Path(request["directory"]))
    sys.stdout.write(json.dumps({"drawn": [{**asdict(p), "path": str(p.path)} for p in drawn]}))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    import os

    code = _serve()
    os._exit(code)  # skip matplotlib's interpreter teardown: the parent is waiting on our exit
