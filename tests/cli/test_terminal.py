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
