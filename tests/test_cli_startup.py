"""`quantrack --help` stays light: no heavy library is imported to print it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

PROBE = """
import sys
from quantrack.cli import main  # what `quantrack` runs, without its os._exit so this can report
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
