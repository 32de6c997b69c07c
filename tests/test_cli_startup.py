"""`quantrack --help` stays light: no heavy library is imported to print it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"

PROBE = """
import runpy, sys
sys.argv = ["quantrack", "--help"]
try:
    runpy.run_module("quantrack", run_name="__main__")
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
