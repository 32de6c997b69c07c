"""The README's Python example runs as written (in a fresh folder, as a user would paste it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_block(after_heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(after_heading):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_compare_example_runs(tmp_path):
    code = _python_block("## Your own model: `quantrack.compare`")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    from quantrack.methods import ALL_METHODS

    assert len(lines) == 2 + len(ALL_METHODS)  # the champion line, then fp32 and every method "all" runs
    assert lines[1].startswith("fp32") and lines[1].rstrip().endswith("%")
    assert (tmp_path / "compare-report" / "report.html").is_file()
    assert (tmp_path / "compare-report" / "models").is_dir()
