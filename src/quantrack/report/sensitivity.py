"""The per-layer sensitivity table in the report: Markdown, HTML, terminal lines and a bar plot.

Reads ``report.sensitivity`` (``{method: rows}``, largest drop first) and ``sensitivity_cost``;
every function returns nothing (an empty list, None) when the report has no table.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from quantrack.core.results import ReportData

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOP = 10  # rows shown in report.md/html per method; report.json holds them all
KEPT_COLOR, QUANTIZED_COLOR = "#ff7f0e", "#1f77b4"


def _drop(value: float, report: ReportData) -> str:
    return f"{100 * value:.2f} pt" if report.score_name == "accuracy" else f"{value:.4f}"


def _interval(row: dict, report: ReportData) -> str:
    ci = row.get("drop_ci")
    return "–" if not ci else f"{_drop(ci[0], report)} to {_drop(ci[1], report)}"


def cost_text(report: ReportData, method: str) -> str:
    c = report.sensitivity_cost.get(method)
    if not c:
        return ""
    on = {"calibration": "calibration rows, none of them evaluated"}.get(c.get("scored_on"), "rows")
    return (f"{c['evaluations']} evaluations on {c['rows']} {on} ({c['workers']} worker(s)), then "
            f"{c['greedy_evaluations']} to choose the float layers; {c['seconds']} s")


def markdown_lines(report: ReportData) -> list[str]:
    if not report.sensitivity:
        return []
    lines = ["", "## Per-layer sensitivity", "",
             f"Each layer quantized alone: the drop in {report.score_name} against fp32. Layers marked *float* "
             "were kept in float by the mixed-precision variant."]
    for method, rows in report.sensitivity.items():
        lines += ["", f"### {method} ({len(rows)} layers; {cost_text(report, method)})", "",
                  "| layer | params | drop alone | 95 % paired interval | kept |", "|---|---|---|---|---|"]
        lines += [f"| {escape(r['layer'], quote=False)} | {r['params']:,} | {_drop(r['drop'], report)} | "
                  f"{_interval(r, report)} | {'float' if r['kept_float'] else ''} |" for r in rows[:TOP]]
        if len(rows) > TOP:
            lines.append(f"\n{len(rows) - TOP} more layers in report.json.")
    return lines


def html_lines(report: ReportData) -> list[str]:
    if not report.sensitivity:
        return []
    out = ['<section id="sensitivity">', "<h2>Per-layer sensitivity</h2>",
           f'<p class="note">Each layer quantized alone: the drop in {escape(report.score_name)} against fp32. '
           "Rows marked float were kept in float by the mixed-precision variant.</p>"]
    for method, rows in report.sensitivity.items():
        out += [f"<h3>{escape(method)} ({len(rows)} layers; {escape(cost_text(report, method))})</h3>",
                '<div class="table-wrap"><table>',
                "<thead><tr><th>layer</th><th>params</th><th>drop alone</th><th>95 % paired interval</th><th>kept</th>"
                "</tr></thead><tbody>"]
        out += [f"<tr><td>{escape(r['layer'])}</td><td>{r['params']:,}</td><td>{_drop(r['drop'], report)}</td>"
                f"<td>{_interval(r, report)}</td><td>{'float' if r['kept_float'] else ''}</td></tr>"
                for r in rows[:TOP]]
        out += ["</tbody></table></div>"]
    return out + ["</section>"]


def console_lines(report: ReportData, top: int = 5) -> list[str]:
    """One line per method: its ``top`` most sensitive layers, and which stayed float."""
    out = []
    for method, rows in report.sensitivity.items():
        worst = ", ".join(f"{r['layer']} {_drop(r['drop'], report)}" + (" (float)" if r["kept_float"] else "")
                          for r in rows[:top])
        out.append(f"most sensitive layers ({method}, {cost_text(report, method)}): {worst}")
    return out


def sensitivity_figure(report: ReportData) -> Figure | None:
    """Drop per layer when quantized alone, one panel per method, float-kept layers highlighted."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if not report.sensitivity:
        return None
    panels = list(report.sensitivity.items())
    n = max(len(rows) for _, rows in panels)
    fig = Figure(figsize=(7.5 * len(panels), max(3.0, 1.2 + 0.22 * n)), dpi=110, layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    scale = 100.0 if report.score_name == "accuracy" else 1.0
    for ax, (method, rows) in zip(axes, panels, strict=True):
        ax.barh(range(len(rows)), [scale * r["drop"] for r in rows],
                color=[KEPT_COLOR if r["kept_float"] else QUANTIZED_COLOR for r in rows])
        ax.set_yticks(range(len(rows)), [r["layer"] for r in rows], fontsize=7 if len(rows) > 20 else 9)
        ax.set_ylim(len(rows) - 0.5, -0.5)  # largest drop on top
        ax.axvline(0, color="black", lw=0.8)  # a negative drop: that layer alone scored above fp32
        ax.set_xlabel(f"drop in {report.score_name}" + (" (points)" if scale == 100.0 else "") + " when quantized alone")
        ax.set_title(method)
        ax.grid(axis="x", alpha=0.3)
    fig.legend(handles=[Patch(color=KEPT_COLOR, label="kept in float"), Patch(color=QUANTIZED_COLOR, label="int8")],
               loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    return fig
