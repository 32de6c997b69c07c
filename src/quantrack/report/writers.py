"""Write a Report as report.json, report.md and a self-contained report.html, with the plots."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from quantrack.evaluate.results import Report, VariantResult

if TYPE_CHECKING:
    from quantrack.report.plots import Plot

PLOTS_DIR = "plots"  # next to report.md, which links to the PNGs by relative path

VERDICT_RULE = ("Each call timed alone after a warm-up, repeated until the median settled. Every variant is "
                "timed side by side with fp32 in alternating short windows; its speed-up is the median of the "
                "windows' ratios (fp32 time / variant time), shown with their p25–p75. A verdict other than "
                "<em>no measurable difference</em> needs that whole p25–p75 range beyond 5 % on one side.")


def _speedup_text(lat) -> str:
    if lat.speedup is None:
        return "–"
    if lat.speedup_p25 is None:
        return f"{lat.speedup:.2f}x"
    return f"{lat.speedup:.2f}x ({lat.speedup_p25:.2f}–{lat.speedup_p75:.2f})"


TABLE_HEADERS = ["variant", "accuracy", "agreement", "params", "payload B", "file B", "file vs fp32",
                 "p50 µs (b=1)", "p50 µs (b=all)", "speed-up (b=all)", "verdict (b=all)"]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def _num(x: float | int | None, fmt: str = "{:,}") -> str:
    return "–" if x is None else fmt.format(x)


def table_rows(report: Report) -> list[list[str]]:
    """One row of strings per variant, in the order of TABLE_HEADERS."""
    b1, ball = (report.batch_sizes + [1, 1])[:2] if report.batch_sizes else (1, 1)
    rows = []
    for v in report.variants:
        name = v.name + (" ★" if v.name == report.champion else "")
        if not v.available:
            rows.append([name, "unavailable: " + (v.reason or "")] + [""] * (len(TABLE_HEADERS) - 2))
            continue
        lat1, latn = v.latency_at(b1), v.latency_at(ball)
        rows.append([
            name, _pct(v.accuracy), _pct(v.agreement), _num(v.params), _num(v.payload_bytes), _num(v.file_bytes),
            _num(v.file_ratio, "{:.2f}x"),
            _num(lat1.p50_us if lat1 else None, "{:,.1f}"), _num(latn.p50_us if latn else None, "{:,.1f}"),
            _num(latn.speedup if latn else None, "{:.2f}x"), (latn.verdict or "baseline") if latn else "–",
        ])
    return rows


def write_json(report: Report, path: Path) -> Path:
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def _md(x: object) -> str:
    """Text for Markdown: no raw HTML (``<x>`` would vanish when rendered), no stray table cell breaks."""
    return escape(str(x), quote=False).replace("|", "\\|")


def _latency_lines(v: VariantResult) -> list[str]:
    return [f"| {_md(v.name)} | {lat.batch_size} | {lat.threads} | {lat.samples} | {lat.p50_us:,.1f} | "
            f"{lat.p90_us:,.1f} | {lat.p99_us:,.1f} | {lat.p25_us:,.1f}–{lat.p75_us:,.1f} | "
            f"{_speedup_text(lat)} | {lat.verdict or 'baseline'} |"
            for lat in v.latency]


def _model_line(cfg: dict) -> str:
    model = str(cfg.get("model"))
    if cfg.get("model") == "mlp" and cfg.get("hidden"):
        model += " (hidden " + ",".join(map(str, cfg["hidden"])) + ")"
    return (f"{model}, {cfg.get('epochs')} epochs, SGD lr {cfg.get('lr')}, batch {cfg.get('batch_size')}, "
            f"seed {cfg.get('seed')}")


def to_markdown(report: Report, plots: Sequence[tuple[str, str]] = ()) -> str:
    """``plots``: (title, path relative to report.md) of each PNG to link."""
    cfg, ds = report.config, report.dataset
    lines = [
        "# quantrack report", "",
        f"- dataset: **{_md(ds.get('name'))}** ({ds.get('rows')} rows x {ds.get('columns')} columns, "
        f"sha256 `{str(ds.get('sha256', ''))[:16]}…`)",
        f"- model: **{_md(_model_line(cfg))}**",
        f"- best epoch (lowest test loss): **{report.best_epoch}**, training took {report.train_seconds:.2f} s",
        f"- champion: **{_md(report.champion)}** — {_md(report.champion_reason)}",
    ]
    if report.mlflow.get("run_id"):
        lines.append(f"- MLflow run `{report.mlflow['run_id']}` in experiment {report.mlflow.get('experiment_id')} "
                     f"at {_md(report.mlflow.get('tracking_uri'))}")
    lines += ["", "## Variants", "", "| " + " | ".join(TABLE_HEADERS) + " |",
              "|" + "---|" * len(TABLE_HEADERS)]
    lines += ["| " + " | ".join(map(_md, r)) + " |" for r in table_rows(report)]
    lines += ["", "Payload bytes follow the assignment's formula (elements x bytes of their stored type, "
              "quantization scales not counted); file bytes are the saved artifact on disk.",
              "", "## Latency", "",
              VERDICT_RULE.replace("<em>", "*").replace("</em>", "*"), "",
              "| variant | batch | threads | samples | p50 µs | p90 µs | p99 µs | p25–p75 µs | speed-up | verdict |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for v in report.variants:
        lines += _latency_lines(v)
    unavailable = [v for v in report.variants if not v.available]
    if unavailable:
        lines += ["", "## Not run", ""] + [f"- **{_md(v.name)}**: {_md(v.reason)}" for v in unavailable]
    if plots:
        lines += ["", "## Plots"]
        for title, rel in plots:
            lines += ["", f"### {title}", "", f"![{title}]({rel})"]
    return "\n".join(lines) + "\n"


def write_markdown(report: Report, path: Path, plots: Sequence[tuple[str, str]] = ()) -> Path:
    path.write_text(to_markdown(report, plots), encoding="utf-8")
    return path


# Fluid from 800 px up (and inside MLflow's artifact viewer, an iframe often narrower): no page
# width cap, headers and long cells wrap, numbers never break; a table still too wide scrolls
# inside its own frame, whose scrollbar stays visible, rather than hiding its last columns.
_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d1d1f;
 background:#fff;margin:0}
main{padding:20px clamp(10px,2.5vw,32px) 48px}
h1{font-size:26px;margin:0 0 12px}h2{font-size:20px;margin:32px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0;max-width:1100px}
dl.summary dt{font-weight:600;color:#555}dl.summary dd{margin:0;min-width:0;overflow-wrap:anywhere}
code{font:13px/1.3 ui-monospace,"DejaVu Sans Mono",monospace;background:#f3f3f3;padding:1px 4px;border-radius:3px;
 word-break:break-all}
.champion-box{border-left:5px solid #ff7f0e;background:#fff6ec;padding:10px 14px;margin:16px 0;max-width:1100px}
.table-wrap{overflow-x:auto;max-width:100%}
.table-wrap::-webkit-scrollbar{height:10px}.table-wrap::-webkit-scrollbar-thumb{background:#bbb;border-radius:5px}
table{border-collapse:collapse;font-size:13.5px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f5f5f7;text-align:center;white-space:normal;vertical-align:bottom}
td:first-child,th:first-child{text-align:left}
td.wrap{white-space:normal}
tr.champion td{background:#fff6ec;font-weight:600}
tr.unavailable td{color:#888;font-style:italic}td.reason{text-align:left;white-space:normal}
.verdict-faster,.verdict-slower,.verdict-same,.verdict-baseline{text-align:left;white-space:normal}
.verdict-faster{color:#1a7f1a;font-weight:600}.verdict-slower{color:#c62828;font-weight:600}
.verdict-same{color:#666}.verdict-baseline{color:#1f5fa8}
figure{margin:18px 0 28px;max-width:1100px}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:13px;margin-top:4px}
p.note{color:#555;font-size:13px;max-width:900px}
@media (max-width:1100px){table{font-size:12.5px}th,td{padding:3px 4px}}
"""

_LATENCY_HEADERS = ["variant", "batch", "threads", "samples", "p50 µs", "p90 µs", "p99 µs", "p25–p75 µs", "p10–p90 µs",
                    "stable", "speed-up", "verdict"]


def _cards_css() -> str:
    """Below 760 px (a phone, or MLflow's artifact viewer beside its side panels) each row becomes a card
    of "header: value" lines, so no column is ever out of sight. The labels come from the headers, in CSS:
    the table markup stays the same at every width."""
    rules = [".table-wrap table,.table-wrap tbody,.table-wrap tr{display:block}.table-wrap thead{display:none}",
             ".table-wrap tr{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));"
             "border:1px solid #ddd;border-radius:4px;margin:0 0 8px;padding:4px 0}",
             ".table-wrap td{border:none;text-align:left;white-space:normal;padding:1px 8px}",
             ".table-wrap td:first-child{grid-column:1/-1;font-weight:600}.table-wrap tr.champion{background:#fff6ec}",
             ".table-wrap td::before{color:#666;font-weight:400}"]
    for section, headers in (("variants", TABLE_HEADERS), ("latency", _LATENCY_HEADERS)):
        rules += [f"#{section} td:nth-child({i})::before{{content:'{h}: '}}"
                  for i, h in enumerate(headers, start=1) if i > 1]
    rules.append("#variants td.reason{grid-column:1/-1}#variants td.reason::before{content:none}")  # after the labels
    return "@media (max-width:759px){" + "".join(rules) + "}\n"


_VERDICT_CLASS = {"faster": "verdict-faster", "slower": "verdict-slower", "no measurable difference": "verdict-same"}


def _e(x: object) -> str:
    return escape(str(x), quote=True)


# Soft hyphens let the longest header words break at 800 px instead of widening their columns.
_HEADER_BREAKS = {"accuracy": "accu\u00adracy", "agreement": "agree\u00adment", "payload": "pay\u00adload",
                  "samples": "sam\u00adples", "threads": "threads"}


def _th(header: str) -> str:
    return "<th>" + " ".join(_HEADER_BREAKS.get(w, w) for w in _e(header).split(" ")) + "</th>"


def _verdict_cell(verdict: str) -> str:
    cls = _VERDICT_CLASS.get(verdict, "verdict-baseline")
    return f'<td class="{cls}">{_e(verdict)}</td>'


def _html_summary(report: Report) -> list[str]:
    cfg, ds, env = report.config, report.dataset, report.environment
    items = [
        ("dataset", f"<strong>{_e(ds.get('name'))}</strong> ({_e(ds.get('source', ''))}), "
                    f"{_e(ds.get('rows'))} rows × {_e(ds.get('columns'))} columns"),
        ("fingerprint", f"sha256 <code>{_e(ds.get('sha256', ''))}</code>"),
        ("model", _e(_model_line(cfg))),
        ("best epoch", f"{_e(report.best_epoch)} (lowest test loss), training took {report.train_seconds:.2f} s"),
        ("choice rule", f"prefer {_e(cfg.get('prefer'))}, at most {_e(cfg.get('max_accuracy_drop'))} "
                        "accuracy points below fp32"),
    ]
    if report.mlflow.get("run_id"):
        items.append(("MLflow run", f"<code>{_e(report.mlflow['run_id'])}</code> in experiment "
                                    f"{_e(report.mlflow.get('experiment_id'))} at "
                                    f"<code>{_e(report.mlflow.get('tracking_uri'))}</code>"))
    if report.registered_model:
        items.append(("registered model", _e(report.registered_model)))
    if env:
        items.append(("environment", _e(", ".join(f"{k} {v}" for k, v in env.items()))))
    out = ['<section id="summary">', '<dl class="summary">']
    out += [f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in items]
    out += ["</dl>", '<div class="champion-box" id="champion">champion: '
            f"<strong>{_e(report.champion)}</strong> — {_e(report.champion_reason)}</div>", "</section>"]
    return out


def _html_variants(report: Report) -> list[str]:
    out = ['<section id="variants">', "<h2>Variants</h2>", '<div class="table-wrap"><table>',
           "<thead><tr>" + "".join(_th(h) for h in TABLE_HEADERS) + "</tr></thead>", "<tbody>"]
    for v, row in zip(report.variants, table_rows(report), strict=True):
        if not v.available:
            out.append(f'<tr class="unavailable"><td>{_e(row[0])}</td>'
                       f'<td class="reason" colspan="{len(TABLE_HEADERS) - 1}">{_e(row[1])}</td></tr>')
            continue
        cls = ' class="champion"' if v.name == report.champion else ""
        cells = [f"<td>{_e(c)}</td>" for c in row[:-1]] + [_verdict_cell(row[-1])]
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out += ["</tbody></table></div>",
            '<p class="note">Payload bytes follow the assignment\'s formula (elements × bytes of their stored type, '
            "quantization scales not counted); file bytes are the saved artifact on disk. ★ marks the champion.</p>",
            "</section>"]
    return out


def _html_latency(report: Report) -> list[str]:
    heads = _LATENCY_HEADERS
    out = ['<section id="latency">', "<h2>Latency</h2>",
           f'<p class="note">{VERDICT_RULE}</p>', '<div class="table-wrap"><table>',
           "<thead><tr>" + "".join(_th(h) for h in heads) + "</tr></thead>", "<tbody>"]
    for v in report.variants:
        cls = ' class="champion"' if v.name == report.champion else ""
        for lat in v.latency:
            cells = [v.name, lat.batch_size, lat.threads, lat.samples, f"{lat.p50_us:,.1f}", f"{lat.p90_us:,.1f}",
                     f"{lat.p99_us:,.1f}", f"{lat.p25_us:,.1f}–{lat.p75_us:,.1f}",
                     f"{lat.p10_us:,.1f}–{lat.p90_us:,.1f}", "yes" if lat.stable else "no (budget ran out)",
                     _speedup_text(lat)]
            # ranges, "no (budget ran out)" and "0.57x (0.54–0.60)" may break after their dash or space
            out.append(f"<tr{cls}>" + "".join(f'<td class="wrap">{_e(c)}</td>' if i >= 7 else f"<td>{_e(c)}</td>"
                                              for i, c in enumerate(cells))
                       + _verdict_cell(lat.verdict or "baseline") + "</tr>")
    out += ["</tbody></table></div>", "</section>"]
    return out


def _html_unavailable(report: Report) -> list[str]:
    unavailable = [v for v in report.variants if not v.available]
    if not unavailable:
        return []
    return (['<section id="unavailable">', "<h2>Not run</h2>", "<ul>"]
            + [f"<li><strong>{_e(v.name)}</strong>: {_e(v.reason or 'no reason given')}</li>" for v in unavailable]
            + ["</ul>", "</section>"])


def _html_plots(plots: Sequence[Plot]) -> list[str]:
    if not plots:
        return []
    out = ['<section id="plots">', "<h2>Plots</h2>"]
    for p in plots:
        data = base64.b64encode(p.path.read_bytes()).decode("ascii")
        out += [f'<figure id="plot-{_e(p.name)}">', f"<h3>{_e(p.title)}</h3>",
                f'<img src="data:image/png;base64,{data}" alt="{_e(p.title)}">',
                f"<figcaption>{_e(p.caption)}</figcaption>", "</figure>"]
    return out + ["</section>"]


def to_html(report: Report, plots: Sequence[Plot] = ()) -> str:
    """One file with everything inside: inline CSS, PNGs as data URIs, no script, nothing fetched."""
    title = f"quantrack report — {report.dataset.get('name')} / {report.config.get('model')}"
    # The policy makes the browser refuse anything not inline, so a stray external reference shows up as broken.
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(title)}</title>", f"<style>{_CSS}{_cards_css()}</style>", "</head>", "<body>", "<main>",
             f"<h1>{_e(title)}</h1>"]
    parts += _html_summary(report) + _html_variants(report) + _html_latency(report)
    parts += _html_unavailable(report) + _html_plots(plots)
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(parts)


def write_html(report: Report, path: Path, plots: Sequence[Plot] = ()) -> Path:
    path.write_text(to_html(report, plots), encoding="utf-8")
    return path


def write_all(report: Report, directory: Path, plots: Sequence[Plot] | None = None) -> list[Path]:
    """Write report.json, the plot PNGs (under plots/), report.md and report.html; return every path.

    ``plots``: figures already drawn under ``directory / PLOTS_DIR`` (by plot_worker); None draws them here.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if plots is None:
        from quantrack.report.plots import write_plots

        plots = write_plots(report, directory / PLOTS_DIR)
    links = [(p.title, p.path.relative_to(directory).as_posix()) for p in plots]
    return [write_json(report, directory / "report.json"), *(p.path for p in plots),
            write_markdown(report, directory / "report.md", links),
            write_html(report, directory / "report.html", plots)]
