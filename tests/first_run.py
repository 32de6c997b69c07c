"""The default `quantrack run`, as a new user meets it: no options, in a fresh folder, inside a real
terminal of 80 columns by 40 lines (tmux), stdout and stderr on the screen.

Run once per test session (tests/conftest.py's ``first_run`` fixture, shared by the pytest-xdist
workers through a file lock) and read by the tests of what that user sees: the last screen
(tests/cli/test_terminal.py), the MLflow store it wrote (tests/tracking/test_story.py) and the report
it saved.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
COLUMNS, LINES = 80, 40
TIMEOUT_S = 900  # the default run: 100 epochs and every method, ~1 min on 2 idle cores, more on loaded ones
TMUX = shutil.which("tmux")


@dataclass(frozen=True)
class FirstRun:
    folder: Path  # the cwd of the run: mlflow.db and runs/ as the defaults put them
    screen: list[str]  # the last screen: what the terminal shows when the run has ended
    history: list[str]  # every line the terminal received (scrollback + screen)
    status: int

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.folder / 'mlflow.db'}"

    def save(self) -> None:
        """Beside the run, for another test process to read (``load``) instead of running it again."""
        (self.folder / "first-run.json").write_text(json.dumps(
            {"screen": self.screen, "history": self.history, "status": self.status}))

    @classmethod
    def load(cls, folder: Path) -> FirstRun | None:
        saved = folder / "first-run.json"
        if not saved.is_file():
            return None
        data = json.loads(saved.read_text())
        return cls(folder, data["screen"], data["history"], data["status"])

    def run_dir(self) -> Path:
        (d,) = [p for p in (self.folder / "runs").iterdir() if p.is_dir() and p.name != "spool"]
        return d


def default_run_in_tmux(folder: Path) -> FirstRun:
    folder.mkdir(parents=True, exist_ok=True)
    sock = f"quantrack-first-run-{os.getpid()}"
    conf = folder / "tmux.conf"
    # The pane stays when the run ends, its last line saying so, as a shell prompt would take one.
    conf.write_text('set -g remain-on-exit on\nset -g remain-on-exit-format "$ "\nset -g history-limit 5000\n'
                    "set -g status off\n")
    # A new user's fresh shell: no terminal size forced and no MLflow settings (a store URI left in this
    # process's environment by an earlier test would take the run's records elsewhere).
    env = {k: v for k, v in os.environ.items()
           if k not in ("COLUMNS", "LINES", "TMUX") and not k.startswith("MLFLOW_")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    env["TERM"] = "xterm-256color"
    cmd = f"cd {folder} && {sys.executable} -m quantrack run; echo $? > {folder / 'status'}"
    tmux = [TMUX, "-L", sock, "-f", str(conf)]
    subprocess.run([*tmux, "new-session", "-d", "-x", str(COLUMNS), "-y", str(LINES), cmd], env=env, check=True)
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            dead = subprocess.run([*tmux, "display", "-p", "#{pane_dead}"], capture_output=True,
                                  text=True, check=True).stdout.split()
            if dead and dead[0] == "1":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"quantrack run still running after {TIMEOUT_S} s")
            time.sleep(1)
        screen = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True, check=True).stdout
        history = subprocess.run([*tmux, "capture-pane", "-p", "-S", "-"], capture_output=True, text=True,
                                 check=True).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    (folder / "screen.txt").write_text(screen)  # kept beside the run, for a person to read
    return FirstRun(folder, screen.splitlines(), history.splitlines(), int((folder / "status").read_text()))
