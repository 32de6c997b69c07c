"""Write a Report as report.json and report.md (and report.html when plots are available)."""

from __future__ import annotations

import json
from pathlib import Path

from quantrack.results import Report, VariantResult

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


def _latency_lines(v: VariantResult) -> list[str]:
    return [f"| {v.name} | {lat.batch_size} | {lat.threads} | {lat.samples} | {lat.p50_us:,.1f} | {lat.p90_us:,.1f} | "
            f"{lat.p99_us:,.1f} | {lat.p25_us:,.1f}–{lat.p75_us:,.1f} | "
            f"{'–' if lat.speedup is None else f'{lat.speedup:.2f}x'} | {lat.verdict or 'baseline'} |"
            for lat in v.latency]


def to_markdown(report: Report) -> str:
    cfg, ds = report.config, report.dataset
    lines = [
        "# quantrack report", "",
        f"- dataset: **{ds.get('name')}** ({ds.get('rows')} rows x {ds.get('columns')} columns, "
        f"sha256 `{str(ds.get('sha256', ''))[:16]}…`)",
        f"- model: **{cfg['model']}**, {cfg['epochs']} epochs, SGD lr {cfg['lr']}, batch {cfg['batch_size']}, "
        f"seed {cfg['seed']}",
        f"- best epoch (lowest test loss): **{report.best_epoch}**, training took {report.train_seconds:.2f} s",
        f"- champion: **{report.champion}** — {report.champion_reason}",
    ]
    if report.mlflow.get("run_id"):
        lines.append(f"- MLflow run `{report.mlflow['run_id']}` in experiment {report.mlflow.get('experiment_id')} "
                     f"at {report.mlflow.get('tracking_uri')}")
    lines += ["", "## Variants", "", "| " + " | ".join(TABLE_HEADERS) + " |",
              "|" + "---|" * len(TABLE_HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(report)]
    lines += ["", "## Latency", "",
              "Each call timed alone after a warm-up, repeated until the median settled. "
              "A verdict other than *no measurable difference* needs the interquartile ranges "
              "(p25–p75) of the variant and fp32 to be apart.", "",
              "| variant | batch | threads | samples | p50 µs | p90 µs | p99 µs | p25–p75 µs | speed-up | verdict |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for v in report.variants:
        lines += _latency_lines(v)
    unavailable = [v for v in report.variants if not v.available]
    if unavailable:
        lines += ["", "## Not run", ""] + [f"- **{v.name}**: {v.reason}" for v in unavailable]
    lines += ["", "Payload bytes follow the assignment's formula (elements x bytes of their stored type, "
              "quantization scales not counted); file bytes are the saved artifact on disk.", ""]
    return "\n".join(lines)


def write_markdown(report: Report, path: Path) -> Path:
    path.write_text(to_markdown(report), encoding="utf-8")
    return path


def write_all(report: Report, directory: Path) -> list[Path]:
    """Write every report file the environment can produce; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    return [write_json(report, directory / "report.json"), write_markdown(report, directory / "report.md")]
