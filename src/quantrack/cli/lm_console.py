"""Terminal output of ``quantrack compare-lm``: the perplexity/speed/memory table and the champion."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from quantrack.cli.console import _out
from quantrack.lm.report import (HEADERS, SENSITIVITY_HEADERS, LMReport, sensitivity_header, sensitivity_rows,
                                 table_rows)


def print_lm_report(report: LMReport, console: Console | None = None) -> None:
    out = console or _out
    table = Table(title=f"compare-lm: {report.source or report.model_summary.get('class', 'model')}",
                  box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for h in HEADERS:
        table.add_column(h, justify="left" if h == "method" else "right")
    for row, v in zip(table_rows(report), [v for v in report.variants if v.available], strict=True):
        table.add_row(*row, style="bold" if v.name == report.champion else None)
    out.print(table)
    for method in report.sensitivity:
        sens = Table(title=sensitivity_header(report, method), box=box.SIMPLE_HEAD, pad_edge=False,
                     title_justify="left")
        for h in SENSITIVITY_HEADERS:
            sens.add_column(h, justify="left" if h == "unit" else "right")
        for row in sensitivity_rows(report, method, top=5):
            sens.add_row(*row)
        out.print(sens)
    for v in report.variants:
        if not v.available:
            out.print(f"{v.name}: not run — {v.reason}", highlight=False, markup=False)
    if report.windows:
        out.print(f"perplexity: {report.windows.text()}", highlight=False, markup=False)
    if report.caveat:
        out.print(f"caveat: {report.caveat}", highlight=False, markup=False)
    cpu = report.environment.get("cpu")
    if cpu:
        from quantrack.core.cpu import cpu_line

        out.print(f"CPU: {cpu_line(cpu)}", highlight=False, markup=False)
    out.print(f"[bold]champion: {escape(report.champion)}[/bold] ★ — {escape(report.champion_reason)}",
              highlight=False)
    if report.out_dir:
        out.print(f"report: {report.out_dir}/report.md", highlight=False)
    if report.mlflow.get("run_id"):
        out.print(f"MLflow run {report.mlflow['run_id']} at {report.mlflow['tracking_uri']}", highlight=False)
    aliases = report.mlflow.get("aliases")
    if report.registered_model and aliases:
        version = aliases.get("challenger")
        out.print(f"registry: {report.champion} is models:/{report.registered_model}@challenger, version {version}; "
                  f"{aliases['why']}", highlight=False, markup=False)
        out.print(f"serve it: quantrack serve --model-uri models:/{report.registered_model}@champion"
                  + (f" --tracking-uri {report.mlflow['tracking_uri']}" if report.mlflow.get("tracking_uri") else ""),
                  highlight=False, markup=False)
