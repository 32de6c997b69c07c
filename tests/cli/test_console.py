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
    # _file, not the file property: undoing a set of the property would pin the console to the stderr
    # pytest was capturing at the time, which later tests then find closed
    monkeypatch.setattr(console._err, "_file", buf)
    monkeypatch.setattr(console._err, "_force_terminal", True)
    progress = console.RichProgress()
    progress.stage("training")
    assert "training" in buf.getvalue() and ".py:" not in buf.getvalue()


def test_lines_wrap_at_spaces_never_inside_a_number_a_name_or_a_figure_and_its_unit():
    from quantrack.cli.console import wrap

    text = ("champion: onnx-int8-dynamic ★ — smallest file shown within 1 point of fp32 at 95 % confidence: "
            "1,670 B (0.38x of fp32), fp32 takes 13.3 µs a call on int4-weight-only and onnx-mixed-int8")
    for width in range(24, 90, 3):
        lines = wrap(text, width)
        assert all(len(line) <= width for line in lines)
        assert " ".join(lines) == text  # nothing lost, every break at a space
        assert not any(line.endswith(("1,670", "13.3", "95")) for line in lines), lines  # unit kept with its number


def test_why_not_faster_is_one_line_per_distinct_reason_naming_its_variants(synthetic_report):
    from quantrack.evaluate.hardware import explain

    report = _every_method_report(synthetic_report)
    cpu = {"flags": ["avx2"], "missing": ["avx512f", "avx512_vnni", "avx_vnni", "amx_int8"], "model": "AMD EPYC",
           "threads": 1}
    report.environment["cpu"] = cpu
    for v in report.variants:
        if v.available and v.name != "fp32":
            v.why = explain(v.name, v.latency, cpu, 650)
    text = _render(report, 80)
    flat = " ".join(text.split())
    lines = [line for line in text.splitlines() if line.startswith("not faster: ")]
    assert lines and len(lines) == len(set(lines))
    assert "why not faster —" not in text  # the per-variant paragraphs: report.md and --verbose
    assert "no VNNI here: int8 matmuls run on plain AVX2" in flat
    assert flat.count("too small a model") == 1
    verbose = Console(width=80, file=io.StringIO(), color_system=None, legacy_windows=False)
    print_report(report, verbose, verbose=True)
    assert verbose.file.getvalue().count("why not faster —") == sum(1 for v in report.variants if v.why)


def test_piped_output_has_no_padding(synthetic_report):
    report = _every_method_report(synthetic_report)
    lines = _render(report, 100).splitlines()
    assert all(line == line.rstrip() for line in lines)
    assert all(len(line) <= 100 for line in lines)


@pytest.mark.parametrize("has, lacks, line", [
    (["avx2"], ["avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "avx512_fp16", "amx_fp16"],
     "AMD EPYC; has AVX2; lacks AVX-512, VNNI, AVX-512 bf16, AVX-512 fp16, AMX; 1 thread"),
    # Zen 4: bf16 without fp16 (the line once read "has … AVX-512 bf16/fp16; lacks AVX-512 bf16/fp16")
    (["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16"], ["amx_int8", "amx_bf16", "avx512_fp16", "amx_fp16"],
     "AMD EPYC; has AVX2, AVX-512, VNNI, AVX-512 bf16; lacks AVX-512 fp16, AMX; 1 thread"),
    (["avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "avx512_fp16", "amx_fp16"], [],
     "AMD EPYC; has AVX2, AVX-512, VNNI, AVX-512 bf16, AVX-512 fp16, AMX; 1 thread"),
])
def test_the_cpu_line_names_each_family_once_on_one_side(has, lacks, line):
    from quantrack.cli.console import _cpu_short

    assert _cpu_short({"model": "AMD EPYC", "flags": has, "missing": lacks, "threads": 1}) == line
