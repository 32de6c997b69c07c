"""A sweep's files: sweep.json, a self-contained sweep.html, and its plot (accuracy against
latency, marker area proportional to the file size, the Pareto front highlighted)."""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path

from quantrack.sweep.results import FINISHED, SweepResult

PLOT_NAME = "sweep_pareto.png"
FRONT_COLOR, OTHER_COLOR, CHAMPION_COLOR = "#2ca02c", "#7f7f7f", "#ff7f0e"


def table_headers(result: SweepResult) -> list[str]:
    swept = list(result.definition.get("space", {}))
    return ["rank", "trial", *swept, "status", "champion", "accuracy", "p50 µs (b=all)", "file B", "seconds"]


def table_rows(result: SweepResult) -> list[list[str]]:
    """One row per trial: ranked finished trials first, then the others in trial order."""
    swept = list(result.definition.get("space", {}))
    order = result.ranking + [t.name for t in result.trials if t.name not in result.ranking]
    rows = []
    for name in order:
        t = result.trial(name)
        rank = str(result.ranking.index(name) + 1) if name in result.ranking else "–"
        champ = next((c for c in t.candidates if c.variant == t.champion), None)
        mark = " ★" if result.champion and result.champion.trial == name else ""
        if champ is None:
            figures = [t.reason or "", "", "", ""]
        else:
            figures = [f"{champ.variant}{mark}", f"{100 * champ.accuracy:.2f}%", f"{champ.p50_us:,.1f}",
                       f"{champ.file_bytes:,}"]
        rows.append([rank, name, *(t.params.get(k, "") for k in swept), t.status, *figures,
                     "–" if t.seconds is None else f"{t.seconds:.1f}"])
    return rows


def front_rows(result: SweepResult) -> list[list[str]]:
    by_key = {c.key: c for t in result.trials for c in t.candidates}
    rows = []
    for key in result.front:
        c = by_key[key]
        rows.append([c.trial, c.variant, f"{100 * c.accuracy:.2f}%", f"{c.p50_us:,.1f}", f"{c.file_bytes:,}"])
    return rows


FRONT_HEADERS = ["trial", "variant", "accuracy", "p50 µs (b=all)", "file B"]


def plot(result: SweepResult, path: Path) -> Path | None:
    """Every finished trial's variants; area ∝ file bytes; the front in green, the champion ringed."""
    cands = [c for t in result.trials if t.status == FINISHED for c in t.candidates]
    if not cands:
        return None
    from matplotlib.figure import Figure

    front = set(result.front)
    biggest = max(c.file_bytes for c in cands)
    fig = Figure(figsize=(7.5, 4.8), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    for on_front in (False, True):
        group = [c for c in cands if (c.key in front) == on_front]
        if group:
            ax.scatter([c.p50_us for c in group], [100 * c.accuracy for c in group],
                       s=[20 + 600 * c.file_bytes / biggest for c in group], alpha=0.55 if not on_front else 0.85,
                       color=FRONT_COLOR if on_front else OTHER_COLOR, edgecolors="black", linewidths=0.4,
                       label="Pareto front" if on_front else "other variants")
    ordered = sorted((c for c in cands if c.key in front), key=lambda c: c.p50_us)
    if len(ordered) > 1:
        ax.plot([c.p50_us for c in ordered], [100 * c.accuracy for c in ordered], color=FRONT_COLOR, lw=1, ls="--")
    if result.champion:
        c = result.champion
        ax.scatter([c.p50_us], [100 * c.accuracy], s=[20 + 600 * c.file_bytes / biggest], facecolors="none",
                   edgecolors=CHAMPION_COLOR, linewidths=2.5, label=f"champion: {c.key}")
    ax.set_xscale("log")
    ax.set_xlabel("latency p50 at the whole-test-split batch (µs, log scale)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Sweep: accuracy against latency (marker area ∝ file size)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(result: SweepResult, png: Path | None) -> str:
    champ = result.champion
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>quantrack sweep</title>",
             "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f4f4f4}</style>",
             "</head><body><h1>quantrack sweep</h1>",
             f"<p><b>champion:</b> {escape(champ.key if champ else 'none')} — {escape(result.champion_reason)}</p>"]
    if result.registered_model and result.alias_version:
        parts.append(f"<p>registered: models:/{escape(result.registered_model)}@champion = version "
                     f"{escape(result.alias_version)}</p>")
    parts.append(f"<p>MLflow parent run {escape(str(result.parent_run_id))} at {escape(str(result.tracking_uri))}</p>")
    parts.append("<h2>Trials, ranked</h2>" + _html_table(table_headers(result), table_rows(result)))
    parts.append("<h2>Pareto front (accuracy ↑, latency ↓, size ↓)</h2>" + _html_table(FRONT_HEADERS, front_rows(result)))
    if png is not None:
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        parts.append(f"<h2>Accuracy against latency</h2><img alt='accuracy against latency' "
                     f"src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_all(result: SweepResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    js = directory / "sweep.json"
    js.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
    png = plot(result, directory / PLOT_NAME)
    html = directory / "sweep.html"
    html.write_text(to_html(result, png), encoding="utf-8")
    return [p for p in (js, html, png) if p is not None]
