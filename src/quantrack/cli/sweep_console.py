"""Terminal output of `quantrack sweep`: the trials ranked, the Pareto front, the champion."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from quantrack.sweep.report import FRONT_HEADERS, front_rows, table_headers, table_rows
from quantrack.sweep.results import SweepResult

_out = Console()
if not _out.is_terminal:
    _out = Console(width=200)  # piped: keep whole rows instead of ellipses


def say(line: str) -> None:
    """Progress lines on stderr, so stdout holds only the result."""
    if line:
        print(f"quantrack: {line}", file=sys.stderr, flush=True)


def print_sweep(result: SweepResult) -> None:
    done = sum(t.status == "FINISHED" for t in result.trials)
    table = Table(title=f"quantrack sweep: {done} of {len(result.trials)} trials finished, ranked "
                        f"(champion of each trial; ★ = the sweep's champion)")
    for h in table_headers(result):
        table.add_column(h, justify="left" if h in ("trial", "status", "champion") else "right")
    for row in table_rows(result):
        table.add_row(*row)
    _out.print(table)
    front = Table(title="Pareto front: no other variant is more accurate, faster and smaller at once")
    for h in FRONT_HEADERS:
        front.add_column(h, justify="left" if h in ("trial", "variant") else "right")
    for row in front_rows(result):
        front.add_row(*row)
    _out.print(front)
    for t in result.trials:
        if t.status != "FINISHED":
            _out.print(f"{t.name} {t.status}: {t.reason}", highlight=False)
    champ = result.champion
    _out.print(f"[bold]champion: {champ.key if champ else 'none'}[/bold] — {result.champion_reason}", highlight=False)
    if result.registered_model and result.alias_version:
        _out.print(f"registered: models:/{result.registered_model}@champion = version {result.alias_version} "
                   f"({champ.key})", highlight=False)
    _out.print(f"report: {result.out_dir}/sweep.html", highlight=False)
    _out.print(f"MLflow parent run {result.parent_run_id} at {result.tracking_uri}", highlight=False)
