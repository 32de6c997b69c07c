"""The benchmark script's quick mode runs end to end and writes every table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_run_writes_every_section(tmp_path):
    out = tmp_path / "B.md"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text(encoding="utf-8")
    for heading in ("## Headlines", "## Machine", "### Training:", "### End to end:",
                    "## (b) Inference latency", "## (c) Scaling", "## (d) Start-up"):
        assert heading in text, heading
    assert "Quick mode" in text
    for row in ("| seed |", "| assignment script |", "| quantrack run --methods dynamic-int8 |",
                "| numpy matmul (floor) |", "| ONNX Runtime fp32 |", "| quantrack fp32 (torch) |",
                "| quantrack dynamic-int8 |", "| 10,000 |", "| 64,64 |", "| python -m quantrack --help |"):
        assert row in text, row
    # Re-rendering from the raw figures gives the same file: nothing in it comes from elsewhere.
    raw = out.with_suffix(".json")
    assert json.loads(raw.read_text())["quick"] is True
    again = tmp_path / "again.md"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--render", str(raw), "--out", str(again)],
                   check=True, timeout=60)
    assert again.read_text(encoding="utf-8") == text


def test_readme_headlines_are_figures_of_benchmarks_md():
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Benchmarks"):]
    section = section[:section.find("\n## ", 5)] if "\n## " in section[5:] else section
    bench = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    figures = re.findall(r"\d[\d,]*\.\d+ ?(?:x|s|%)|\d[\d,]* MB", section.split("From its last run", 1)[1])
    assert len(figures) >= 8
    for fig in figures:
        assert fig in bench, f"README quotes {fig!r}, which BENCHMARKS.md does not contain"
