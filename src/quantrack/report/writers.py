"""Write a report as report.json, report.md and a self-contained report.html, with the plots."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from quantrack.core.budget import Budget
from quantrack.core.results import (CONFIDENT, MIN_CALLS_FOR_P99, MIN_EFFECT_TEXT, POINT_ESTIMATE, ReportData,
                                    VariantResult)

if TYPE_CHECKING:
    from quantrack.report.plots import Plot

PLOTS_DIR = "plots"  # next to report.md, which links to the PNGs by relative path

VERDICT_RULE = ("Each call timed alone after a warm-up, repeated until the median settled. Every variant is "
                "timed side by side with fp32 in alternating short windows; its speed-up is the median of the "
                "windows' ratios (fp32 time / variant time), shown with its 95 % interval [in brackets] and the "
                "windows' p25–p75. A verdict other than <em>no measurable difference</em> needs that whole p25–p75 "
                f"range beyond {MIN_EFFECT_TEXT} on one side. A variant's p50 is shown beside fp32's from the same windows, so "
                "the two agree with the verdict; fp32's own row was timed alone. p99 is shown only when it rests "
                f"on at least {MIN_CALLS_FOR_P99} calls.")

STATS_RULE = ("Accuracy on the test rows with its Wilson 95 % interval; drop = fp32's accuracy minus the variant's "
              "on the same rows, in points, with Newcombe's paired interval, and p = the exact McNemar test on the "
              "rows where exactly one of the two is right (a large p is not evidence that they are equal).")
METRIC_STATS_RULE = ("The score is the metric over the test rows with a 95 % interval from a paired bootstrap over "
                     "rows; drop = fp32's score minus the variant's on the same rows, with its paired bootstrap "
                     "interval and p-value.")


def _speedup_text(lat) -> str:
    if lat.speedup is None:
        return "–"
    text = f"{lat.speedup:.2f}x"
    if lat.speedup_ci:
        text += f" [{lat.speedup_ci[0]:.2f}–{lat.speedup_ci[1]:.2f}]"
    if lat.speedup_p25 is not None:
        text += f" (p25–p75 {lat.speedup_p25:.2f}–{lat.speedup_p75:.2f})"
    return text


def _p99_text(lat) -> str:
    if lat.samples < MIN_CALLS_FOR_P99:
        return f"– ({lat.samples} calls)"
    return f"{lat.p99_us:,.1f}"


def _p50_pair(lat) -> str:
    """A variant's p50 beside fp32's from the same windows; fp32's own (solo) p50 on its own row."""
    if lat is None:
        return "–"
    if lat.baseline_p50_us is None:
        return f"{lat.p50_us:,.1f}"
    return f"{lat.p50_us:,.1f} vs {lat.baseline_p50_us:,.1f}"


def _accuracy_text(v: VariantResult, report: ReportData) -> str:
    """The score with its interval: accuracy in %, a metric as it is."""
    ci = v.accuracy_ci
    if report.score_name != "accuracy":
        return _num(v.score, "{:.4f}") + (f" ({ci[0]:.4f}–{ci[1]:.4f})" if ci else "")
    return _pct(v.accuracy) + (f" ({100 * ci[0]:.2f}–{100 * ci[1]:.2f})" if ci else "")


def _drop_text(v: VariantResult, report: ReportData) -> str:
    if v.stats is None or v.stats.drop is None:
        return "–"
    k = 100 if report.score_name == "accuracy" else 1  # accuracy in points
    digits = 2 if k == 100 else 4
    return f"{k * v.stats.drop:.{digits}f} ({k * v.drop_ci[0]:.{digits}f} to {k * v.drop_ci[1]:.{digits}f})"


def _p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


TABLE_HEADERS = ["variant", "accuracy (95% CI)", "drop, points (95% CI)", "p", "agreement", "params", "payload B",
                 "file B", "file vs fp32", "p50 µs vs fp32 (b=1)", "p50 µs vs fp32 (b=all)", "speed-up [95% CI] (b=all)",
                 "verdict (b=all)"]


def rule_text(report: ReportData) -> str:
    """How the champion got through, for the line that names it."""
    conf = report.config.get("confidence")
    if report.champion_rule == CONFIDENT:
        level = f"{100 * conf:g}% " if conf else ""
        return f"rule: confident, its whole {level}drop interval is within the budget"
    if report.champion_rule == POINT_ESTIMATE:
        return "rule: point estimate, the measured drop is within the budget (intervals not used)"
    return "rule: baseline, fp32 ships because no variant qualified"


def split_text(report: ReportData) -> str:
    sp, on = report.split, report.config.get("checkpoint_on", "test")
    sizes = f"{sp.get('train')} train / {sp.get('val')} val / {sp.get('test')} test rows" if sp else "sizes not recorded"
    if on == "val":
        return f"{sizes}; checkpoint chosen on the validation rows, so the test rows chose nothing"
    return (f"{sizes}; checkpoint chosen on the test rows (--checkpoint-on test, the assignment's way), "
            "so every accuracy here is a little optimistic")


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.2f}%"


def _num(x: float | int | None, fmt: str = "{:,}") -> str:
    return "–" if x is None else fmt.format(x)


def table_headers(report: ReportData) -> list[str]:
    """TABLE_HEADERS; with a user's metric, plain accuracy, then the metric and its drop in its units."""
    if report.score_name == "accuracy":
        return list(TABLE_HEADERS)
    name = report.score_name
    return ["variant", "accuracy", f"{name} (95% CI)", f"drop in {name} (95% CI)", *TABLE_HEADERS[3:]]


def table_rows(report: ReportData) -> list[list[str]]:
    """One row of strings per variant, in the order of table_headers(report)."""
    headers = table_headers(report)
    b1, ball = (report.batch_sizes + [1, 1])[:2] if report.batch_sizes else (1, 1)
    rows = []
    for v in report.variants:
        name = v.name + (" ★" if v.name == report.champion else "")
        if not v.available:
            rows.append([name, "unavailable: " + (v.reason or "")] + [""] * (len(headers) - 2))
            continue
        lat1, latn = v.latency_at(b1), v.latency_at(ball)
        speed = "–"
        if latn and latn.speedup is not None:
            speed = f"{latn.speedup:.2f}x" + (f" [{latn.speedup_ci[0]:.2f}–{latn.speedup_ci[1]:.2f}]"
                                              if latn.speedup_ci else "")
        rows.append([
            name, *([] if report.score_name == "accuracy" else [_pct(v.accuracy)]), _accuracy_text(v, report),
            _drop_text(v, report), _p_text(v.p_value), _pct(v.agreement), _num(v.params),
            _num(v.payload_bytes), _num(v.file_bytes), _num(v.file_ratio, "{:.2f}x"),
            _p50_pair(lat1), _p50_pair(latn), speed, (latn.verdict or "baseline") if latn else "–",
        ])
    return rows


def unavailable_groups(report: ReportData) -> list[tuple[list[str], str]]:
    """The variants that did not run, grouped by their reason: ([names], reason), in the report's order."""
    groups: dict[str, list[str]] = {}
    for v in report.variants:
        if not v.available:
            groups.setdefault(v.reason or "no reason given", []).append(v.name)
    return [(names, reason) for reason, names in groups.items()]


def write_json(report: ReportData, path: Path) -> Path:
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def _md(x: object) -> str:
    """Text for Markdown: no raw HTML (``<x>`` would vanish when rendered), no stray table cell breaks."""
    return escape(str(x), quote=False).replace("|", "\\|")


def _baseline_text(lat) -> str:
    """fp32's p50 / p90 / p99 from the same windows as this row's variant."""
    if lat.baseline_p50_us is None:
        return "–"
    p99 = f"{lat.baseline_p99_us:,.1f}" if (lat.baseline_samples or 0) >= MIN_CALLS_FOR_P99 else "–"
    return f"{lat.baseline_p50_us:,.1f} / {lat.baseline_p90_us:,.1f} / {p99}"


def _latency_lines(v: VariantResult) -> list[str]:
    return [f"| {_md(v.name)} | {lat.batch_size} | {lat.threads} | {lat.samples} | {lat.p50_us:,.1f} | "
            f"{lat.p90_us:,.1f} | {_p99_text(lat)} | {lat.p25_us:,.1f}–{lat.p75_us:,.1f} | {_baseline_text(lat)} | "
            f"{_speedup_text(lat)} | {lat.verdict or 'baseline'} |"
            for lat in v.latency]


def _model_line(report: ReportData) -> str:
    cfg = report.config
    if "model" not in cfg:  # compare() on the user's own model: no training here
        m = report.model_summary
        return f"{m.get('class', 'model')}, {m.get('params', 0):,} parameters, inputs {', '.join(m.get('inputs', []))}"
    model = str(cfg.get("model"))
    if cfg.get("model") == "mlp" and cfg.get("hidden"):
        model += " (hidden " + ",".join(map(str, cfg["hidden"])) + ")"
    return (f"{model}, {cfg.get('epochs')} epochs, SGD lr {cfg.get('lr')}, batch {cfg.get('batch_size')}, "
            f"seed {cfg.get('seed')}")


def run_url(report: ReportData) -> str | None:
    """The run's page in MLflow's UI when the tracking URI is a server (report.json keeps it without
    credentials); None for a local store (its UI's address is whatever `mlflow ui` is started on)."""
    uri, eid, rid = (report.mlflow.get(k) for k in ("tracking_uri", "experiment_id", "run_id"))
    if not (uri and eid and rid and str(uri).startswith(("http://", "https://"))):
        return None
    # ?workflowType=machine_learning: MLflow 3's UI would otherwise open the run in its GenAI mode
    return f"{str(uri).rstrip('/')}/#/experiments/{eid}/runs/{rid}?workflowType=machine_learning"


def report_subject(report: ReportData) -> str:
    """What the report is about: the dataset and model kind of a run, or the user's model class."""
    if report.dataset or "model" in report.config:
        return f"{report.dataset.get('name')} / {report.config.get('model')}"
    return str(report.model_summary.get("class", "model"))


def to_markdown(report: ReportData, plots: Sequence[tuple[str, str]] = ()) -> str:
    """``plots``: (title, path relative to report.md) of each PNG to link."""
    cfg, ds = report.config, report.dataset
    lines = ["# quantrack report", ""]
    if ds:
        lines.append(f"- dataset: **{_md(ds.get('name'))}** ({ds.get('rows')} rows x {ds.get('columns')} columns, "
                     f"sha256 `{str(ds.get('sha256', ''))[:16]}…`)")
    lines.append(f"- model: **{_md(_model_line(report))}**")
    if report.split:
        lines.append(f"- split: {_md(split_text(report))}")
    if cfg.get("calibration_source"):  # quantrack compare MODEL.onnx: where static int8's calibration rows came from
        lines.append(f"- calibration: {_md(cfg['calibration_source'])}")
    if report.best_epoch is not None:
        lines.append(f"- best epoch (lowest {_md(cfg.get('checkpoint_on', 'test'))} loss): **{report.best_epoch}**, "
                     f"training took {report.train_seconds:.2f} s")
    lines += [f"- CPU: {_md(_cpu_line(report))}",
              f"- champion: **{_md(report.champion)}** ({_md(rule_text(report))}) — {_md(report.champion_reason)}"]
    if report.mlflow.get("run_id"):
        url = run_url(report)
        run = f"[`{report.mlflow['run_id']}`]({url})" if url else f"`{report.mlflow['run_id']}`"
        lines.append(f"- MLflow run {run} in experiment {report.mlflow.get('experiment_id')} "
                     f"at {_md(report.mlflow.get('tracking_uri'))}")
    lines += ["", "## Variants", "", "| " + " | ".join(table_headers(report)) + " |",
              "|" + "---|" * len(table_headers(report))]
    lines += ["| " + " | ".join(map(_md, r)) + " |"
              for r, v in zip(table_rows(report), report.variants, strict=True) if v.available]
    width = len(table_headers(report))  # the variants that did not run: one row per reason
    lines += ["| " + " | ".join([_md(", ".join(names)), _md("unavailable: " + reason)] + [""] * (width - 2)) + " |"
              for names, reason in unavailable_groups(report)]
    lines += ["", STATS_RULE, "",
              "Payload bytes follow the assignment's formula (elements x bytes of their stored type, "
              "quantization scales not counted); file bytes are the saved artifact on disk.",
              "", "## Latency", "",
              VERDICT_RULE.replace("<em>", "*").replace("</em>", "*"), "",
              "| variant | batch | threads | samples | p50 µs | p90 µs | p99 µs | p25–p75 µs | fp32 p50 / p90 / p99 µs "
              "(same windows) | speed-up [95% CI] | verdict |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for v in report.variants:
        lines += _latency_lines(v)
    # what each backend ran with, where it can tell (ORT's provider, OpenVINO's precision, eager or Inductor),
    # with the seconds producing it took (of which compiling)
    lines += runtime_lines(report)
    whys = [v for v in report.variants if v.why]
    if whys:
        lines += ["", "## Why not faster", ""] + [f"- **{_md(v.name)}**: {_md(v.why)}" for v in whys]
    from quantrack.report.search import markdown_lines as search_lines
    from quantrack.report.sensitivity import markdown_lines

    lines += search_lines(report)
    lines += markdown_lines(report)
    groups = unavailable_groups(report)
    if groups:
        lines += ["", "## Not run", ""] + [f"- {', '.join(f'**{_md(n)}**' for n in names)}: {_md(reason)}"
                                           for names, reason in groups]
    if plots:
        lines += ["", "## Plots"]
        for title, rel in plots:
            lines += ["", f"### {title}", "", f"![{title}]({rel})"]
    return "\n".join(lines) + "\n"


def runtime_text(v: VariantResult) -> str:
    """How a variant ran and what producing it cost: "inductor (...); 41.2 s to produce, of which 38.0 s compiling"."""
    parts = [v.runtime or "–"]
    if v.seconds_to_quantize is not None:
        parts.append(f"{v.seconds_to_quantize:,.1f} s to produce" + (
            f", of which {v.compile_seconds:,.1f} s compiling" if v.compile_seconds is not None else ""))
    return "; ".join(parts)


def runtime_lines(report: ReportData) -> list[str]:
    """A section for the variants that say how they ran (compiled or eager), so a speed-up is read with its cost."""
    told = [v for v in report.variants if v.available and v.runtime]
    if not told:
        return []
    return ["", "## What ran each variant", "", "Compile time is paid once per process (and again when a saved "
            "variant is loaded); latencies are measured after it, on warmed-up graphs.", ""] + [
        f"- **{_md(v.name)}**: {_md(runtime_text(v))}" for v in told]


def write_markdown(report: ReportData, path: Path, plots: Sequence[tuple[str, str]] = ()) -> Path:
    path.write_text(to_markdown(report, plots), encoding="utf-8")
    return path


# Fluid from 800 px up (and inside MLflow's artifact viewer, an iframe often narrower): no page
# width cap, headers and long cells wrap between a figure and its interval, never inside a number, an
# interval or a name (.nb spans); the tables' type and cell padding scale with the window (9 px type
# at 800 with a scrollbar, 13.5 px from 1,300 up) so every column of the widest report fits; a table still too wide
# scrolls inside its own frame, whose scrollbar stays visible, rather than hiding its last columns.
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
table{border-collapse:collapse;font-size:clamp(9px,calc(1vw + 0.5px),13.5px)}
th,td{border:1px solid #ddd;padding:4px clamp(2px,calc(0.6vw - 3px),8px);text-align:right;white-space:nowrap}
th{background:#f5f5f7;text-align:center;white-space:normal;vertical-align:bottom}
td:first-child,th:first-child{text-align:left}
td.wrap{white-space:normal}.nb,strong{white-space:nowrap}
tr.champion td{background:#fff6ec;font-weight:600}
tr.unavailable td{color:#888;font-style:italic}td.reason{text-align:left;white-space:normal}
.verdict-faster,.verdict-slower,.verdict-same,.verdict-baseline{text-align:left;white-space:normal}
.verdict-faster{color:#1a7f1a;font-weight:600}.verdict-slower{color:#c62828;font-weight:600}
.verdict-same{color:#666}.verdict-baseline{color:#1f5fa8}
figure{margin:18px 0 28px;max-width:1100px}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:13px;margin-top:4px}
p.note{color:#555;font-size:13px;max-width:900px}
"""

_LATENCY_HEADERS = ["variant", "batch", "threads", "samples", "p50 µs", "p90 µs", "p99 µs", "p25–p75 µs", "p10–p90 µs",
                    "fp32 p50 / p90 / p99 µs (same windows)", "stable", "speed-up [95% CI]", "verdict"]


def _cards_css(report: ReportData) -> str:
    """Below 760 px (a phone, or MLflow's artifact viewer beside its side panels) each row becomes a card
    of "header: value" lines, so no column is ever out of sight. The labels come from the headers, in CSS:
    the table markup stays the same at every width."""
    rules = [".table-wrap table,.table-wrap tbody,.table-wrap tr{display:block}.table-wrap thead{display:none}",
             ".table-wrap tr{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));"
             "border:1px solid #ddd;border-radius:4px;margin:0 0 8px;padding:4px 0}",
             ".table-wrap td{border:none;text-align:left;white-space:normal;padding:1px 8px}",
             ".table-wrap td:first-child{grid-column:1/-1;font-weight:600}.table-wrap tr.champion{background:#fff6ec}",
             ".table-wrap td::before{color:#666;font-weight:400}"]
    for section, headers in (("variants", table_headers(report)), ("latency", _LATENCY_HEADERS)):
        rules += [f"#{section} td:nth-child({i})::before{{content:'{h}: '}}"
                  for i, h in enumerate(headers, start=1) if i > 1]
    rules.append("#variants td.reason{grid-column:1/-1}#variants td.reason::before{content:none}")  # after the labels
    return "@media (max-width:759px){" + "".join(rules) + "}\n"


_VERDICT_CLASS = {"faster": "verdict-faster", "slower": "verdict-slower", "no measurable difference": "verdict-same"}


def _cpu_line(report: ReportData) -> str:
    from quantrack.core.cpu import cpu_line

    cpu = report.environment.get("cpu")
    return cpu_line(cpu) if cpu else "not recorded"


def _e(x: object) -> str:
    return escape(str(x), quote=True)


# Soft hyphens let the longest header words break at 800 px instead of widening their columns.
_HEADER_BREAKS = {"accuracy": "accu\u00adracy", "agreement": "agree\u00adment", "payload": "pay\u00adload",
                  "samples": "sam\u00adples", "threads": "threads"}


# A bracketed interval is one unit; a label opening a bracket ("(p25–p75 0.31–0.32)") is a unit of its own.
_UNIT = re.compile(r"\([a-z][\w–]*(?= )|\([^)]*\)|\[[^\]]*\]|\S+")


def _units(text: str) -> str:
    """``text`` escaped, each number, name and bracketed interval in a span that never breaks inside:
    "95.00% (92.24–96.81)" may go onto two lines between the figure and its interval, but never at
    the dash (a browser breaks after "–" and "-" unless told not to)."""
    return " ".join(f'<span class="nb">{_e(m.group())}</span>' for m in _UNIT.finditer(text))


def _th(header: str) -> str:
    return "<th>" + " ".join(_HEADER_BREAKS.get(w, w) for w in _e(header).split(" ")) + "</th>"


def _verdict_cell(verdict: str) -> str:
    cls = _VERDICT_CLASS.get(verdict, "verdict-baseline")
    return f'<td class="{cls}">{_e(verdict)}</td>'


def _html_summary(report: ReportData) -> list[str]:
    cfg, ds = report.config, report.dataset
    items = []
    if ds:
        items += [("dataset", f"<strong>{_e(ds.get('name'))}</strong> ({_e(ds.get('source', ''))}), "
                              f"{_e(ds.get('rows'))} rows × {_e(ds.get('columns'))} columns"),
                  ("fingerprint", f"sha256 <code>{_e(ds.get('sha256', ''))}</code>")]
    items.append(("model", _e(_model_line(report))))
    if report.split:
        items.append(("split", _e(split_text(report))))
    if report.best_epoch is not None:
        items.append(("best epoch", f"{_e(report.best_epoch)} (lowest {_e(cfg.get('checkpoint_on', 'test'))} loss), "
                                    f"training took {report.train_seconds:.2f} s"))
    if report.max_drop is not None:
        items.append(("choice rule", f"prefer {_e(report.prefer)}, at most "
                                     f"{_e(Budget(report.max_drop, None, score_name=report.score_name).text())} below fp32"
                                     + (f", shown at {100 * cfg['confidence']:g}% confidence" if cfg.get("confidence")
                                        else ", on point estimates")))
    items.append(("CPU", _e(_cpu_line(report))))
    if report.mlflow.get("run_id"):
        url = run_url(report)
        code = f"<code>{_e(report.mlflow['run_id'])}</code>"
        items.append(("MLflow run", (f'<a href="{_e(url)}">{code}</a>' if url else code) + " in experiment "
                                    f"{_e(report.mlflow.get('experiment_id'))} at "
                                    f"<code>{_e(report.mlflow.get('tracking_uri'))}</code>"))
    if report.registered_model:
        items.append(("registered model", _e(report.registered_model)))
    if report.environment:
        items.append(("environment", _e(", ".join(f"{k} {v}" for k, v in report.environment.items() if k != "cpu"))))
    out = ['<section id="summary">', '<dl class="summary">']
    out += [f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in items]
    out += ["</dl>", '<div class="champion-box" id="champion">champion: '
            f"<strong>{_e(report.champion)}</strong> ({_e(rule_text(report))}) — {_e(report.champion_reason)}</div>",
            "</section>"]
    return out


def _html_variants(report: ReportData) -> list[str]:
    out = ['<section id="variants">', "<h2>Variants</h2>", '<div class="table-wrap"><table>',
           "<thead><tr>" + "".join(_th(h) for h in table_headers(report)) + "</tr></thead>", "<tbody>"]
    for v, row in zip(report.variants, table_rows(report), strict=True):
        if not v.available:  # after the measured rows: one row per reason, naming its variants
            continue
        cls = ' class="champion"' if v.name == report.champion else ""
        # A figure with its interval ("95.00% (92.24–96.81)", "37.0 vs 10.4") may break between the two, so
        # the 13 columns fit an 800 px window; never inside a number, an interval or a name (_units).
        cells = [f'<td class="wrap">{_units(row[0])}</td>']  # "onnx-int8-dynamic ★": a break before the ★ only
        cells += [f'<td class="wrap">{_units(c)}</td>' if " " in c else f"<td>{_e(c)}</td>" for c in row[1:-1]]
        cells.append(_verdict_cell(row[-1]))
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    for names, reason in unavailable_groups(report):
        # the names wrap between each other (each one unbroken), so a long group never widens the variant column
        spans = ", ".join(f'<span class="nb">{_e(n)}</span>' for n in names)
        out.append(f'<tr class="unavailable"><td class="wrap">{spans}</td>'
                   f'<td class="reason" colspan="{len(table_headers(report)) - 1}">unavailable: {_e(reason)}</td></tr>')
    out += ["</tbody></table></div>",
            '<p class="note">Payload bytes follow the assignment\'s formula (elements × bytes of their stored type, '
            "quantization scales not counted); file bytes are the saved artifact on disk. ★ marks the champion.</p>",
            f'<p class="note">{_e(STATS_RULE if report.score_name == "accuracy" else METRIC_STATS_RULE)}</p>',
            "</section>"]
    return out


def _html_latency(report: ReportData) -> list[str]:
    heads = _LATENCY_HEADERS
    out = ['<section id="latency">', "<h2>Latency</h2>",
           f'<p class="note">{VERDICT_RULE}</p>', '<div class="table-wrap"><table>',
           "<thead><tr>" + "".join(_th(h) for h in heads) + "</tr></thead>", "<tbody>"]
    for v in report.variants:
        cls = ' class="champion"' if v.name == report.champion else ""
        for lat in v.latency:
            cells = [v.name, lat.batch_size, lat.threads, lat.samples, f"{lat.p50_us:,.1f}", f"{lat.p90_us:,.1f}",
                     _p99_text(lat), f"{lat.p25_us:,.1f}–{lat.p75_us:,.1f}",
                     f"{lat.p10_us:,.1f}–{lat.p90_us:,.1f}", _baseline_text(lat),
                     "yes" if lat.stable else "no (budget ran out)", _speedup_text(lat)]
            # ranges, "no (budget ran out)" and "0.57x (0.54–0.60)" may break after their dash or space
            out.append(f"<tr{cls}>" + "".join(f'<td class="wrap">{_units(str(c))}</td>' if i >= 7
                                              else f"<td>{_e(c)}</td>" for i, c in enumerate(cells))
                       + _verdict_cell(lat.verdict or "baseline") + "</tr>")
    out += ["</tbody></table></div>"]
    whys = [v for v in report.variants if v.why]
    if whys:
        out += ['<h3 id="why">Why not faster</h3>', "<ul>"]
        out += [f"<li><strong>{_e(v.name)}</strong>: {_e(v.why)}</li>" for v in whys] + ["</ul>"]
    return out + ["</section>"]


def _html_unavailable(report: ReportData) -> list[str]:
    groups = unavailable_groups(report)
    if not groups:
        return []
    return (['<section id="unavailable">', "<h2>Not run</h2>", "<ul>"]
            + [f"<li>{', '.join(f'<strong>{_e(n)}</strong>' for n in names)}: {_e(reason)}</li>"
               for names, reason in groups]
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


def to_html(report: ReportData, plots: Sequence[Plot] = ()) -> str:
    """One file with everything inside: inline CSS, PNGs as data URIs, no script, nothing fetched."""
    title = f"quantrack report — {report_subject(report)}"
    # The policy makes the browser refuse anything not inline, so a stray external reference shows up as broken.
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_e(title)}</title>", f"<style>{_CSS}{_cards_css(report)}</style>", "</head>", "<body>", "<main>",
             f"<h1>{_e(title)}</h1>"]
    parts += _html_summary(report) + _html_variants(report) + _html_latency(report)
    from quantrack.report.sensitivity import html_lines

    parts += html_lines(report) + _html_unavailable(report) + _html_plots(plots)
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(parts)


def write_html(report: ReportData, path: Path, plots: Sequence[Plot] = ()) -> Path:
    path.write_text(to_html(report, plots), encoding="utf-8")
    return path


def write_all(report: ReportData, directory: Path, plots: Sequence[Plot] | None = None) -> list[Path]:
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
