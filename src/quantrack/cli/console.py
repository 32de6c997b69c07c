"""Terminal output with rich: a progress bar for training, a table for the variants."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from quantrack.evaluate.results import ReportData
from quantrack.evaluate.timing import MIN_EFFECT_TEXT
from quantrack.report.writers import STATS_RULE, report_subject, rule_text, split_text, table_headers, table_rows

# Progress goes to stderr so stdout holds only the result.
_err = Console(stderr=True)
# When piped, rich assumes 80 columns and would squeeze the table into ellipses.
_out = Console()
if not _out.is_terminal:
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


def print_report(report: ReportData) -> None:
    training = (f" (best epoch {report.best_epoch}, {report.train_seconds:.2f} s training)"
                if report.best_epoch is not None else "")
    table = Table(title=f"quantrack: {report_subject(report)}{training}")
    for h in table_headers(report):
        table.add_column(h, justify="left" if h == "variant" else "right")
    for row in table_rows(report):
        table.add_row(*row)
    _out.print(table)
    b = report.batch_sizes
    _out.print(f"split: {split_text(report)}", highlight=False, markup=False)
    _out.print(STATS_RULE, highlight=False, markup=False)
    _out.print(f"latency: median of repeated single calls, {report.environment.get('threads')} thread(s), "
               f"batch sizes {', '.join(map(str, b))}; each variant timed side by side with fp32 (its p50 is shown "
               f"beside fp32's from the same windows), the speed-up with its 95 % interval, and a verdict needs the "
               f"p25–p75 of its speed-ups beyond {MIN_EFFECT_TEXT}.", highlight=False)
    cpu = report.environment.get("cpu")
    if cpu:
        from quantrack.evaluate.hardware import cpu_line

        _out.print(f"CPU: {cpu_line(cpu)}", highlight=False, markup=False)
    for v in report.variants:
        if v.why:
            _out.print(f"why not faster — {v.name}: {v.why}", highlight=False, markup=False)
    from quantrack.report.sensitivity import console_lines

    for line in console_lines(report):
        _out.print(line, highlight=False, markup=False)
    _out.print(f"[bold]champion: {escape(report.champion)}[/bold] ({escape(rule_text(report))}) — "
               f"{escape(report.champion_reason)}", highlight=False)
    if report.out_dir:
        _out.print(f"report: {report.out_dir}/report.md")
    if report.mlflow.get("spooled_to"):
        _out.print(f"MLflow run {report.mlflow['run_id']} NOT uploaded (server unreachable): saved in "
                   f"{report.mlflow['spooled_to']}; upload it with `quantrack sync`")
    elif report.mlflow.get("run_id"):
        _out.print(f"MLflow run {report.mlflow['run_id']} at {report.mlflow['tracking_uri']}")
    if report.registered_model and report.mlflow.get("alias_version"):
        _out.print(f"registered: models:/{report.registered_model}@{report.mlflow['alias']} = version "
                   f"{report.mlflow['alias_version']} ({report.champion})")
