"""The terminal table at 80, 120 and 200 columns: every name in full, the ★ on its row, nothing cut."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from quantrack.cli.console import print_report
from wide_report import every_method_report


def _every_method_report(synthetic_report):
    return every_method_report(synthetic_report)


def _render(report, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    print_report(report, console)
    return console.file.getvalue()


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_table_fits_and_every_name_and_the_champion_mark_are_readable(synthetic_report, width):
    report = _every_method_report(synthetic_report)
    text = _render(report, width)
    lines = text.splitlines()
    table = lines[:lines.index(next(line for line in lines if line.startswith("not run: ")))]
    assert all(len(line) <= width for line in table), max(map(len, table))
    assert "…" not in text
    for v in (v for v in report.variants if v.available):  # each name in full at the start of its own row
        assert any(line.lstrip().startswith(v.name + " ") or line.strip() == v.name for line in table), v.name
    not_run = [v.name for v in report.variants if not v.available]
    assert any(line.startswith(f"not run: {', '.join(not_run)} — ") for line in lines)  # below the table, by reason
    champion_rows = [line for line in table if "★" in line]
    assert len(champion_rows) == 1 and champion_rows[0].lstrip().startswith("onnx-int8-dynamic ★")
    assert "95.83%" in champion_rows[0]  # the accuracy, formatted as in the champion line below
    flat = " ".join(text.split())  # the champion line may wrap at the terminal's width
    assert "champion: onnx-int8-dynamic ★ — " in flat and "100,008 B" in flat and "95.83%" in flat
    assert all(len(line) <= width for line in lines), max(lines, key=len)


def test_columns_are_chosen_by_width_and_the_rest_are_named(synthetic_report):
    report = _every_method_report(synthetic_report)
    narrow, wide = _render(report, 80), _render(report, 200)
    assert "(not shown at 80 columns: " in narrow
    assert "not shown at" not in wide
    header = next(line for line in wide.splitlines() if line.lstrip().startswith("variant"))
    for h in ("accuracy", "agreement", "params", "payload B", "file B", "speed-up b=360"):
        assert h in header
    narrow_header = next(line for line in narrow.splitlines() if line.lstrip().startswith("variant"))
    assert "accuracy" in narrow_header and "speed-up b=360" in narrow_header  # the verdict rides in it
    assert any(line.rstrip().endswith("x slower") for line in narrow.splitlines())


def test_log_lines_carry_no_source_location(capsys, monkeypatch):
    from quantrack.cli import console

    buf = io.StringIO()
    monkeypatch.setattr(console._err, "file", buf)
    monkeypatch.setattr(console._err, "_force_terminal", True)
    progress = console.RichProgress()
    progress.stage("training")
    assert "training" in buf.getvalue() and ".py:" not in buf.getvalue()
