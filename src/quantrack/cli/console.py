"""Terminal output with rich: a progress bar for training, a table for the variants."""

from __future__ import annotations

import io
import os

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from quantrack.report.writers import TABLE_HEADERS, table_rows
from quantrack.evaluate.results import Report

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
        self._bar.update(self._task, completed=epoch, losses=f"train {train_loss:.4f} test {test_loss:.4f}")


# Terminal columns by priority: the first ones stay at any width, the rest join while they fit.
# No cell wraps or is cut (rich would otherwise shrink the names into "onnx-in…").
_PRIORITY = ["variant", "accuracy", "verdict (b=all)", "file B", "speed-up (b=all)", "p50 µs (b=1)", "agreement",
             "file vs fp32", "p50 µs (b=all)", "payload B", "params"]
_SHORT = {"verdict (b=all)": "verdict", "speed-up (b=all)": "speed-up", "p50 µs (b=1)": "p50 µs b=1",
          "p50 µs (b=all)": "p50 µs b=all", "file vs fp32": "file ×fp32"}


def variant_table(report: Report, width: int) -> tuple[Table, list[str]]:
    """The widest table of the most important columns that fits ``width``; also the headers left out."""
    rows = table_rows(report)
    unavailable = {i for i, v in enumerate(report.variants) if not v.available}
    for n in range(len(_PRIORITY), 1, -1):
        shown = [h for h in TABLE_HEADERS if h in _PRIORITY[:n]]
        table = _table(report, rows, unavailable, shown)
        if _fits(table, width):
            return table, [h for h in TABLE_HEADERS if h not in shown]
    shown = [h for h in TABLE_HEADERS if h in _PRIORITY[:2]]
    return _table(report, rows, unavailable, shown), [h for h in TABLE_HEADERS if h not in shown]


def _table(report: Report, rows: list[list[str]], unavailable: set[int], shown: list[str]) -> Table:
    from rich import box

    table = Table(title=f"{report.dataset.get('name')} / {report.config['model']}: best epoch {report.best_epoch}, "
                        f"{report.train_seconds:.2f} s training", box=box.SIMPLE_HEAD, pad_edge=False,
                  title_justify="left")
    for h in shown:
        table.add_column(_SHORT.get(h, h), justify="left" if h in ("variant", "verdict (b=all)") else "right",
                         no_wrap=True)
    idx = [TABLE_HEADERS.index(h) for h in shown]
    for i, row in enumerate(rows):
        if i in unavailable:  # the reason is listed below the table, where it can wrap
            cells = [row[0]] + ["–"] * (len(shown) - 1)
            if "verdict (b=all)" in shown:
                cells[shown.index("verdict (b=all)")] = "not run"
        else:  # the longest verdict on two lines keeps a column for the speed-up at 80 columns
            cells = [row[j].replace("no measurable ", "no measurable\n") for j in idx]
        style = "bold" if report.variants[i].name == report.champion else None
        table.add_row(*cells, style=style)
    return table


def _fits(table: Table, width: int) -> bool:
    probe = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    probe.print(table)
    lines = probe.file.getvalue().splitlines()
    return all(len(line.rstrip()) <= width for line in lines) and "…" not in probe.file.getvalue()


def print_report(report: Report, console: Console | None = None) -> None:
    out = console or _out
    table, hidden = variant_table(report, out.width)
    out.print(table)
    for v in report.variants:
        if not v.available:
            out.print(f"{v.name}: not run — {v.reason}", highlight=False)
    if hidden:
        out.print(f"(narrow terminal: {', '.join(hidden)} are in the report)", highlight=False)
    b = report.batch_sizes
    out.print(f"latency: median of repeated single calls, {report.environment.get('threads')} thread(s), "
              f"batch sizes {', '.join(map(str, b))}; each variant timed side by side with fp32, and "
              f"a verdict needs the p25–p75 of its speed-ups beyond 5 % (so the speed-up can differ from the ratio of "
              f"p50 columns timed at other moments).", highlight=False)
    out.print(f"[bold]champion: {report.champion}[/bold] ★ — {report.champion_reason}", highlight=False)
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
