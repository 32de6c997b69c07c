"""What a new user sees at the end of the default `quantrack run` in an 80x40 terminal: the whole table,
the champion and where the report is, on the last screen, no line wider than 80 and nothing cut."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = [pytest.mark.slow]


def test_the_last_screen_holds_the_table_the_champion_and_the_report(first_run):
    screen = first_run.screen
    assert first_run.status == 0, "\n".join(first_run.history[-30:])
    report = json.loads((first_run.run_dir() / "report.json").read_text())
    text = "\n".join(screen)
    assert all(len(line) <= 80 for line in screen), max(screen, key=len)
    # the whole table: its title, its header (speed-up at the largest batch a column) and a row per variant run
    batch = report["batch_sizes"][-1]
    assert any(line.startswith("digits / logreg: best epoch ") for line in screen), text
    header = next(line for line in screen if line.startswith("variant "))
    assert f"speed-up b={batch}" in header
    for v in report["variants"]:
        if v["available"]:
            assert any(re.match(rf"{re.escape(v['name'])}( ★)? +\d", line) for line in screen), v["name"]
    assert any(line.startswith(f"champion: {report['champion']} ★") for line in screen)
    assert any(line.startswith("report: runs/") and line.endswith("/report.html") for line in screen)
    # why not faster: one line per distinct reason, so none of the variants' paragraphs repeats
    reasons = [line for line in screen if line.startswith("not faster: ")]
    assert len(reasons) == len(set(reasons))
    assert "…" not in text


def test_no_progress_bar_or_warning_reaches_the_terminal(first_run):
    history = "\n".join(first_run.history)
    assert "Downloading artifacts" not in history and "it/s]" not in history
    assert "Warning" not in history and "warn(" not in history


def test_piped_output_is_at_most_100_columns_without_padding(tmp_path):
    """`quantrack run | cat`: a pipe is no terminal, so lines are cut for a log viewer and carry no padding."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")]))
    # Few epochs and the methods with the longest names and reasons (an unavailable one's "not run" line
    # among them), not all of them: the whole set is on the 80-column screen above, and measuring it
    # again here cost half a minute. stdout a pipe as in `| cat`.
    methods = "fp16,bf16,onnx-int8-static,openvino-fp32,openvino-int4-weights,mixed-int8,onnx-mixed-int8"
    proc = subprocess.run([sys.executable, "-m", "quantrack", "run", "--epochs", "3", "--no-register",
                           "--methods", methods], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) > 15
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    assert not [line for line in lines if line != line.rstrip()], "trailing spaces"
    assert any(line.startswith("champion: ") for line in lines)
    assert any(line.startswith("not run: mixed-int8, onnx-mixed-int8") for line in lines)
    assert proc.stderr == "", proc.stderr  # a normal run says nothing on a piped stderr
    env["COLUMNS"] = "72"
    narrow = subprocess.run([sys.executable, "-c", "from quantrack.cli.console import _out; print(_out.width)"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert narrow.stdout.strip() == "72"
