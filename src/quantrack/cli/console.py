"""Terminal output with rich: a progress bar for training, a table for the variants."""

from __future__ import annotations

import io
import os
import re

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from quantrack.core.cpu import FLAGS
from quantrack.core.results import FASTER, MIN_EFFECT_TEXT, ReportData
from quantrack.report.writers import (METRIC_STATS_RULE, STATS_RULE, report_subject, rule_text, split_text,
                                      table_headers, table_rows, unavailable_groups)

# Progress goes to stderr so stdout holds only the result; no "console.py:37" after each line.
_err = Console(stderr=True, log_path=False)
# When piped, rich assumes 80 columns; a pipe or a log file gets PIPED_WIDTH unless COLUMNS says otherwise.
PIPED_WIDTH = 100  # wide enough for the table's main columns, narrow enough for a log viewer
_out = Console()
if not _out.is_terminal:
    _out = Console(width=int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else PIPED_WIDTH)


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
# stay at any width, the rest join while they fit. Every cell is one line (a row per variant keeps
# the whole table on one screen); no cell wraps or is cut (rich would otherwise shrink the names
# into "onnx-in…"). The speed-up is its point estimate at the largest batch; its interval is in the report.
_SPEEDUP = "speed-up [95% CI] (b=all)"
_SHORT = {"verdict (b=all)": "verdict", "p50 µs vs fp32 (b=1)": "p50 µs b=1", "p50 µs vs fp32 (b=all)": "p50 µs b=all",
          "file vs fp32": "file ×fp32", "drop, points (95% CI)": "drop pts (95% CI)"}
_VERDICT_SHORT = {"no measurable difference": "within noise"}  # the report's rule: p25–p75 within ±5 %


def _priority(headers: list[str]) -> list[str]:
    """The report's columns, most important first: name, score, speed-up, size, verdict, drop, the rest."""
    score = headers[1] if headers[1] != "accuracy" else headers[2]  # with a metric, plain accuracy comes first
    drop = headers[headers.index(score) + 1]
    first = ["variant", score, _SPEEDUP, "file B", drop,
             "p50 µs vs fp32 (b=1)", "agreement", "p", "file vs fp32", "p50 µs vs fp32 (b=all)", "payload B", "params"]
    return [h for h in first if h in headers] + [h for h in headers if h not in first]


def variant_table(report: ReportData, width: int) -> tuple[Table, list[str]]:
    """The widest table of the most important columns that fits ``width``; also the headers left out.

    The variants that did not run are not rows: :func:`print_report` lists them by reason below."""
    headers = table_headers(report)
    priority = _priority(headers)
    rows = [r for r, v in zip(table_rows(report), report.variants, strict=True) if v.available]
    names = [v.name for v in report.variants if v.available]
    # The verdict rides in the speed-up cell ("0.66x slower"): one column less to fit.
    priority = [h for h in priority if h != "verdict (b=all)"]
    for n in range(len(priority), 1, -1):
        shown = [h for h in headers if h in priority[:n]]
        table = _table(report, headers, rows, names, shown)
        if _fits(table, width) or n == 2:
            break
    covered = set(shown) | ({"verdict (b=all)"} if _SPEEDUP in shown else set())
    return table, [h for h in headers if h not in covered]


def _header(report: ReportData, h: str) -> str:
    if h == _SPEEDUP:
        return f"speed-up b={report.batch_sizes[-1]}" if report.batch_sizes else "speed-up"
    return _SHORT.get(h, h)


def _cell(h: str, text: str, verdict: str) -> str:
    if h == _SPEEDUP:  # "0.85x [0.80–0.90]" and "slower" -> "0.85x slower"; fp32's own row: "baseline"
        speed = text.split(" ")[0]
        verdict = _VERDICT_SHORT.get(verdict, verdict)
        return verdict if speed == "–" else f"{speed} {verdict}"
    if h == "verdict (b=all)":
        return _VERDICT_SHORT.get(text, text)
    return text


def _table(report: ReportData, headers: list[str], rows: list[list[str]], names: list[str],
           shown: list[str]) -> Table:
    from rich import box

    training = (f": best epoch {report.best_epoch}, {report.train_seconds:.2f} s training"
                if report.best_epoch is not None else "")
    table = Table(title=f"{report_subject(report)}{training}", box=box.SIMPLE_HEAD, pad_edge=False,
                  title_justify="left", show_edge=False)
    for h in shown:
        table.add_column(_header(report, h), justify="left" if h in ("variant", "verdict (b=all)", _SPEEDUP)
                         else "right", no_wrap=True)
    idx = [headers.index(h) for h in shown]
    for name, row in zip(names, rows, strict=True):
        style = "bold" if name == report.champion else None
        table.add_row(*(_cell(h, row[j], row[-1]) for h, j in zip(shown, idx, strict=True)), style=style)
    return table


def _render(renderable, width: int) -> list[str]:
    probe = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    probe.print(renderable)
    return [line.rstrip() for line in probe.file.getvalue().splitlines()]


def _fits(table: Table, width: int) -> bool:
    lines = _render(table, width)
    return all(len(line) <= width for line in lines) and not any("…" in line for line in lines)


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` columns broken at spaces only: never inside a number, a name
    ("onnx-int8-dynamic", "1,670") or a figure and its unit ("13.3 µs", "95 %", "1,670 B")."""
    import re
    import textwrap

    # A non-breaking space (textwrap breaks at ASCII whitespace only) glues a number to its unit.
    glued = re.sub(r"(\d) (µs|ms|B|KB|MB|%|points?|pt|rows|thread\(s\)|s\b)", "\\1\u00a0\\2", text)
    lines = textwrap.wrap(glued, width, break_long_words=False, break_on_hyphens=False) or [""]
    return [line.replace("\u00a0", " ") for line in lines]


def print_report(report: ReportData, console: Console | None = None, *, verbose: bool = False) -> None:
    """The table, then one line per fact that matters; the rule texts and every reason in full with ``verbose``.

    Sized to end on one 80×40 screen for the default run: the table, why not faster (one line per
    distinct reason, naming its variants), the champion, and where the report is."""
    out = console or _out
    width = out.width

    table, hidden = variant_table(report, width)
    table_lines = _render(table, width)
    items = _after_table(report, hidden, width, verbose, condensed=False)
    height = getattr(out, "height", None) if out.is_terminal else None
    # height - 3: the title line above the table and the shell's prompt below stay on the screen too
    if height and not verbose and len(table_lines) + sum(len(wrap(t, width)) for t, _ in items) > height - 3:
        items = _after_table(report, hidden, width, verbose, condensed=True)  # keep the table on the last screen
    if out.is_terminal:
        out.print(table)
    else:  # a pipe or a file: the same table without rich's padding to the table's width
        for line in table_lines:
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    for text, style in items:
        for line in wrap(text, width):
            out.print(line, style=style, highlight=False, markup=False, soft_wrap=True)


def _after_table(report: ReportData, hidden: list[str], width: int, verbose: bool,
                 condensed: bool) -> list[tuple[str, str | None]]:
    """The lines below the table, as (text, style); ``condensed``: the reasons in one line, for a short screen."""
    items: list[tuple[str, str | None]] = []

    def say(text: str, style: str | None = None) -> None:
        items.append((text, style))

    for names, reason in unavailable_groups(report):
        # condensed: the reason up to its first colon ("does not apply to --model logreg"); in full in the report
        say(f"not run: {', '.join(names)} — {reason.split(':', 1)[0] if condensed else reason}")
    if hidden and not condensed:
        say(f"(not shown at {width} columns: {', '.join(_SHORT.get(h, h) for h in hidden)}; see the report)")
    if verbose:
        _print_details(report, say)
    else:
        _print_why_not_faster(report, say, condensed=condensed)
    from quantrack.report.sensitivity import console_lines

    for line in console_lines(report):
        say(line)
    rule = f" ({rule_text(report)})" if verbose else ""  # the reason says the confidence; the rule is in the report
    say(f"champion: {report.champion} ★{rule} — {report.champion_reason}", style="bold")
    if report.out_dir:
        say(f"report: {report.out_dir}/report.html")
    if report.mlflow.get("spooled_to"):
        say(f"MLflow run {report.mlflow['run_id']} NOT uploaded (server unreachable): saved in "
            f"{report.mlflow['spooled_to']}; upload it with `quantrack sync`")
    elif report.mlflow.get("run_id"):
        say(f"MLflow run {report.mlflow['run_id']} at {report.mlflow['tracking_uri']}")
    aliases = report.mlflow.get("aliases")
    if report.registered_model and aliases:
        registered = (f"{report.champion} is models:/{report.registered_model}@challenger, version "
                      f"{aliases['challenger']}; " if aliases.get("challenger") else "")
        say(f"registry: {registered}{aliases['why']}")
    return items


def _print_why_not_faster(report: ReportData, say, condensed: bool = False) -> None:
    """One line per distinct reason, naming the variants it applies to (each in full: report.md, --verbose)."""
    from quantrack.evaluate.hardware import short_reasons

    groups: dict[str, list[str]] = {}
    for v in report.variants:
        if v.why:
            # "onnx-int8-dynamic (b=1)": not faster at batch 1 only, though faster in the table's column
            slow = [lat.batch_size for lat in v.latency if lat.verdict not in (None, FASTER)]
            name = v.name if len(slow) == len(v.latency) else f"{v.name} (b={','.join(map(str, slow))})"
            for reason in short_reasons(v.why):
                groups.setdefault(reason, []).append(name)
    if condensed and groups:  # a screen too short for a line per reason: their gist, the variants in the report
        slow = {n.split(" ")[0] for names in groups.values() for n in names}
        say(f"not faster: {len(slow)} variants, for {len(groups)} distinct reasons (the report and --verbose "
            "say which and why)")
    for reason, names in ({} if condensed else groups).items():
        say(f"not faster: {', '.join(names)} — {reason}")
    cpu = report.environment.get("cpu")
    if cpu:
        say(f"CPU: {_cpu_short(cpu)}")


# The instruction families the terminal names, in this order; the report lists every flag. bf16 and fp16
# stay apart: a CPU with AVX-512 bf16 (Zen 4) often lacks AVX-512 fp16, and one name for both read as
# "has AVX-512 bf16/fp16; lacks AVX-512 bf16/fp16".
_FAMILY_OF_FLAG = {"avx512_vnni": "VNNI", "avx_vnni": "VNNI", "avx512_bf16": "AVX-512 bf16",
                   "avx512_fp16": "AVX-512 fp16"}
_FAMILY_RANK = {name: i for i, name in enumerate(["AVX2", "AVX-512", "VNNI", "AVX-512 bf16", "AVX-512 fp16", "AMX"])}


def _cpu_family(flag: str) -> str:
    if flag in _FAMILY_OF_FLAG:
        return _FAMILY_OF_FLAG[flag]
    if flag.startswith("avx512"):
        return "AVX-512"
    return "AMX" if flag.startswith("amx") else flag.upper()


def _cpu_short(cpu: dict) -> str:
    """"AMD EPYC; has AVX2; lacks AVX-512, VNNI, AMX; 1 thread": the instruction families, not every flag."""
    def families(flags: list[str]) -> str:
        return ", ".join(sorted({_cpu_family(f) for f in flags},
                                key=lambda n: (_FAMILY_RANK.get(n, len(_FAMILY_RANK)), n)))

    text = f"{cpu.get('model') or 'unknown'}; has {families(cpu.get('flags') or []) or 'none of ' + ', '.join(FLAGS)}"
    if cpu.get("missing"):
        text += f"; lacks {families(cpu['missing'])}"
    threads = cpu.get("threads")
    return f"{text}; {threads} thread{'' if threads == 1 else 's'}"


def _print_details(report: ReportData, say) -> None:
    b = report.batch_sizes
    if report.split:
        say(f"split: {split_text(report)}")
    say(STATS_RULE if report.score_name == "accuracy" else METRIC_STATS_RULE)
    say(f"latency: median of repeated single calls, {report.environment.get('threads')} thread(s), "
        f"batch sizes {', '.join(map(str, b))}; each variant timed side by side with fp32 (its p50 is shown "
        f"beside fp32's from the same windows), the speed-up with its 95 % interval, and a verdict needs the "
        f"p25–p75 of its speed-ups beyond {MIN_EFFECT_TEXT}.")
    cpu = report.environment.get("cpu")
    if cpu:
        from quantrack.core.cpu import cpu_line

        say(f"CPU: {cpu_line(cpu)}")
    for v in report.variants:
        if v.why:
            say(f"why not faster — {v.name}: {v.why}")
