"""Terminal output with rich: a progress bar for training, a table for the variants."""

from __future__ import annotations

import io
import os

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from quantrack.core.results import MIN_EFFECT_TEXT, ReportData
from quantrack.report.writers import (METRIC_STATS_RULE, STATS_RULE, report_subject, rule_text, split_text,
                                      table_headers, table_rows)

# Progress goes to stderr so stdout holds only the result; no "console.py:37" after each line.
_err = Console(stderr=True, log_path=False)
# When piped, rich assumes 80 columns; a file gets the whole table unless COLUMNS says otherwise.
_out = Console()
if not _out.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
    _out = Console(width=200)


class RichProgress:
    def __init__(self) -> None:
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[losses]}"), TimeElapsedColumn(), console=_err,
                             transient=True, disable=not _err.is_terminal)
        self._task = None

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def stage(self, text: str) -> None:
        # Piped or captured stderr stays silent, so an error is the only line there.
        if _err.is_terminal:
            self._bar.console.log(text)

    def notice(self, text: str) -> None:
        """Something the user must see even when stderr is piped (the server went away...)."""
        self._bar.console.print(f"quantrack: {text}", style="yellow", highlight=False, soft_wrap=True)

    def epoch(self, epoch: int, epochs: int, train_loss: float, test_loss: float) -> None:
        if self._task is None:
            self._task = self._bar.add_task("training", total=epochs, losses="")
        # The held-out loss is the one the checkpoint is chosen on: validation, or test (--checkpoint-on test).
        self._bar.update(self._task, completed=epoch, losses=f"train {train_loss:.4f} held-out {test_loss:.4f}")


# Terminal columns by priority (positions in the report's headers, see _priority): the first ones
# stay at any width, the rest join while they fit. No cell wraps or is cut (rich would otherwise
# shrink the names into "onnx-in…").
_SHORT = {"verdict (b=all)": "verdict", "speed-up [95% CI] (b=all)": "speed-up [95% CI]",
          "p50 µs vs fp32 (b=1)": "p50 µs b=1", "p50 µs vs fp32 (b=all)": "p50 µs b=all",
          "file vs fp32": "file ×fp32", "drop, points (95% CI)": "drop pts (95% CI)"}


def _priority(headers: list[str]) -> list[str]:
    """The report's columns, most important first: name, score, verdict, size, speed-up, drop, the rest."""
    score = headers[1] if headers[1] != "accuracy" else headers[2]  # with a metric, plain accuracy comes first
    drop = headers[headers.index(score) + 1]
    first = ["variant", score, "verdict (b=all)", "file B", "speed-up [95% CI] (b=all)", drop,
             "p50 µs vs fp32 (b=1)", "agreement", "p", "file vs fp32", "p50 µs vs fp32 (b=all)", "payload B", "params"]
    return [h for h in first if h in headers] + [h for h in headers if h not in first]


def variant_table(report: ReportData, width: int) -> tuple[Table, list[str]]:
    """The widest table of the most important columns that fits ``width``; also the headers left out."""
    headers = table_headers(report)
    priority = _priority(headers)
    rows = table_rows(report)
    unavailable = {i for i, v in enumerate(report.variants) if not v.available}
    for n in range(len(priority), 1, -1):
        shown = [h for h in headers if h in priority[:n]]
        table = _table(report, headers, rows, unavailable, shown)
        if _fits(table, width):
            return table, [h for h in headers if h not in shown]
    shown = [h for h in headers if h in priority[:2]]
    return _table(report, headers, rows, unavailable, shown), [h for h in headers if h not in shown]


def _table(report: ReportData, headers: list[str], rows: list[list[str]], unavailable: set[int],
           shown: list[str]) -> Table:
    from rich import box

    training = (f": best epoch {report.best_epoch}, {report.train_seconds:.2f} s training"
                if report.best_epoch is not None else "")
    table = Table(title=f"{report_subject(report)}{training}", box=box.SIMPLE_HEAD, pad_edge=False,
                  title_justify="left")
    for h in shown:
        table.add_column(_SHORT.get(h, h), justify="left" if h in ("variant", "verdict (b=all)") else "right",
                         no_wrap=True)
    idx = [headers.index(h) for h in shown]
    for i, row in enumerate(rows):
        if i in unavailable:  # the reason is listed below the table, where it can wrap
            cells = [row[0]] + ["–"] * (len(shown) - 1)
            if "verdict (b=all)" in shown:
                cells[shown.index("verdict (b=all)")] = "not run"
        else:  # long cells on two lines (a verdict, a figure and its interval) keep more columns in view
            cells = [row[j].replace("no measurable ", "no measurable\n").replace(" (", "\n(").replace(" [", "\n[")
                     for j in idx]
        style = "bold" if report.variants[i].name == report.champion else None
        table.add_row(*cells, style=style)
    return table


def _fits(table: Table, width: int) -> bool:
    probe = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    probe.print(table)
    lines = probe.file.getvalue().splitlines()
    return all(len(line.rstrip()) <= width for line in lines) and "…" not in probe.file.getvalue()


def print_report(report: ReportData, console: Console | None = None) -> None:
    out = console or _out
    table, hidden = variant_table(report, out.width)
    out.print(table)
    for v in report.variants:
        if not v.available:
            out.print(f"{v.name}: not run — {v.reason}", highlight=False, markup=False)
    if hidden:
        out.print(f"(narrow terminal: {', '.join(hidden)} are in the report)", highlight=False, markup=False)
    b = report.batch_sizes
    if report.split:
        out.print(f"split: {split_text(report)}", highlight=False, markup=False)
    out.print(STATS_RULE if report.score_name == "accuracy" else METRIC_STATS_RULE, highlight=False, markup=False)
    out.print(f"latency: median of repeated single calls, {report.environment.get('threads')} thread(s), "
              f"batch sizes {', '.join(map(str, b))}; each variant timed side by side with fp32 (its p50 is shown "
              f"beside fp32's from the same windows), the speed-up with its 95 % interval, and a verdict needs the "
              f"p25–p75 of its speed-ups beyond {MIN_EFFECT_TEXT}.", highlight=False)
    cpu = report.environment.get("cpu")
    if cpu:
        from quantrack.core.cpu import cpu_line

        out.print(f"CPU: {cpu_line(cpu)}", highlight=False, markup=False)
    for v in report.variants:
        if v.why:
            out.print(f"why not faster — {v.name}: {v.why}", highlight=False, markup=False)
    from quantrack.report.sensitivity import console_lines

    for line in console_lines(report):
        out.print(line, highlight=False, markup=False)
    out.print(f"[bold]champion: {escape(report.champion)}[/bold] ★ ({escape(rule_text(report))}) — "
              f"{escape(report.champion_reason)}", highlight=False)
    if report.out_dir:
        out.print(f"report: {report.out_dir}/report.html", highlight=False)
    if report.mlflow.get("spooled_to"):
        out.print(f"MLflow run {report.mlflow['run_id']} NOT uploaded (server unreachable): saved in "
                  f"{report.mlflow['spooled_to']}; upload it with `quantrack sync`", highlight=False)
    elif report.mlflow.get("run_id"):
        out.print(f"MLflow run {report.mlflow['run_id']} at {report.mlflow['tracking_uri']}", highlight=False)
    aliases = report.mlflow.get("aliases")
    if report.registered_model and aliases:
        if aliases.get("challenger"):
            out.print(f"registered: models:/{report.registered_model}@challenger = version {aliases['challenger']} "
                      f"({report.champion})", highlight=False)
        out.print(f"registry: {aliases['why']}", highlight=False)
