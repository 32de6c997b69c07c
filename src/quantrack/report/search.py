"""The report's "Search" section (``quantrack.search``): how many rows chose and judged, why it
stopped, the finalists as judged on the held-out rows, and every trial with the Pareto front marked."""

from __future__ import annotations

from typing import Any


def _cell(x: Any, fmt: str = "{}") -> str:
    return "–" if x is None else fmt.format(x)


def markdown_lines(report) -> list[str]:
    s = report.search
    if not s:
        return []
    pareto = set(s.get("pareto", []))
    cache = s.get("cache") or {}
    lines = ["", "## Search", "",
             f"- {s['selection_rows']} evaluation rows chose (every trial is scored on them), {s['held_out_rows']} "
             "held-out rows judged (only the finalists are scored there); the champion's score above is its "
             "held-out one",
             f"- {len(s['trials'])} trials ({cache.get('hits', 0)} from the cache) in {s['seconds']:.1f} s; stopped: "
             f"**{s['stopped_because']}** (time budget {s['time_budget_s']:g} s, at most {s['max_trials']} trials)"]
    for f in s.get("finalists", []):
        ci = f.get("held_out_drop_ci")
        lines.append(f"- finalist trial {f['trial']} {f['label']}: held-out score {f['held_out_score']:.4f}, drop "
                     f"{f['held_out_drop']:.4f}" + (f" ({ci[0]:.4f} to {ci[1]:.4f})" if ci else "")
                     + (", within budget" if f["within_budget"] else ", over budget"))
    lines += ["", "| trial | recipe | strategy | status | selection score | drop (CI) | file B | p50 µs b=1 | "
                  "speed-up b=1 | seconds | cached | Pareto |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for t in s["trials"]:
        lat = t.get("latency") or {}
        ci = t.get("drop_ci")
        drop = _cell(t.get("drop"), "{:.4f}") + (f" ({ci[0]:.4f} to {ci[1]:.4f})" if ci else "")
        status = t["status"] + (f": {t['reason']}" if t.get("reason") else "")
        lines.append("| " + " | ".join([
            str(t["id"]), t["label"].replace("|", "\\|"), t["recipe"].get("strategy", ""), status.replace("|", "\\|"),
            _cell(t.get("score"), "{:.4f}"), drop, _cell(t.get("file_bytes"), "{:,}"), _cell(lat.get("p50_us"), "{:,.1f}"),
            _cell(lat.get("speedup"), "{:.2f}x"), f"{t['seconds']:.2f}", "yes" if t.get("cached") else "",
            "★" if t["id"] in pareto else ""]) + " |")
    return lines
