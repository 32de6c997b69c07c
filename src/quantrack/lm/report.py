"""The LM comparison's Report: the shared Report with the windows and source recorded, and its own
report.md (a perplexity table reads differently from an accuracy one: lower is better)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from quantrack.lm.corpus import WindowSpec
from quantrack.report.document import Report

Q4_1_CAVEAT = ("The GGUF's float weights already carry the 4-bit rounding of Q4_1, so \"fp32\" means \"this "
               "checkpoint in fp32\", not the original bf16 release.")


@dataclass
class LMReport(Report):
    windows: WindowSpec | None = None
    source: str | None = None  # the folder or GGUF file the model came from, when loaded by quantrack
    caveat: str | None = None  # what "fp32" means for this checkpoint
    prompts: int = 0
    check_tokens: int = 0
    prompt_tokens: int = 0  # the prompt the prefill and decode step are timed on

    def save(self, folder: str | Path, plots=None) -> list[Path]:
        """report.json and report.md (no plots: ``plots`` is accepted for Report's signature and unused)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        j, m = folder / "report.json", folder / "report.md"
        j.write_text(json.dumps(self.to_dict(), indent=1, default=str) + "\n", encoding="utf-8")
        m.write_text(to_markdown(self), encoding="utf-8")
        return [j, m]


def _ms(us: float) -> str:
    return f"{us / 1000:,.1f}"


def _lat(lat, fp32: bool) -> str:
    if lat is None:
        return "–"
    text = f"{_ms(lat.p50_us)} [{_ms(lat.p25_us)}–{_ms(lat.p75_us)}]"
    if not fp32 and lat.speedup is not None:
        text += f", {lat.speedup:.2f}x fp32 ({lat.verdict})"
    return text


def _tps(v) -> str:
    d = v.decode
    if d is None:
        return "–"
    return f"{1e6 / d.p50_us:,.1f} [{1e6 / d.p75_us:,.1f}–{1e6 / d.p25_us:,.1f}]"


HEADERS = ["method", "perplexity [95% CI]", "increase [95% CI]", "top-1 agreement", "generation match",
           "decode tokens/s [p25–p75]", "decode step ms [p25–p75] vs fp32", "prefill ms [p25–p75] vs fp32",
           "weight MB", "peak RSS MB (added)", "time to produce s"]


def table_rows(report: LMReport) -> list[list[str]]:
    rows = []
    for v in report.variants:
        if not v.available:
            continue
        s = v.stats
        fp32 = v.name == "fp32"
        ppl = f"{v.score:.3f} [{s.score_ci[0]:.3f}–{s.score_ci[1]:.3f}]" if s else f"{v.score:.3f}"
        inc = "–" if fp32 or s is None or s.drop_ci is None else \
            f"{100 * s.drop:+.2f} % [{100 * s.drop_ci[0]:+.2f}–{100 * s.drop_ci[1]:+.2f}]"
        mem = v.memory
        mem_text = "–" if mem is None or mem.peak_rss_bytes is None else \
            f"{mem.peak_rss_bytes / 1e6:,.0f} (+{(mem.added_bytes or 0) / 1e6:,.0f})"
        rows.append([v.name + (" ★" if v.name == report.champion else ""), ppl, inc,
                     "–" if fp32 else f"{100 * v.agreement:.1f} %",
                     "–" if fp32 else f"{100 * v.generation_match:.0f} %",
                     _tps(v), _lat(v.decode, fp32), _lat(v.prefill, fp32),
                     f"{v.weight_bytes / 1e6:,.1f}" if v.weight_bytes else "–", mem_text,
                     "–" if fp32 else f"{v.seconds_to_quantize:.1f}"])
    return rows


SENSITIVITY_TOP = 10  # units shown in report.md; report.json holds them all


def sensitivity_header(report: LMReport, method: str) -> str:
    rows, cost = report.sensitivity[method], report.sensitivity_cost.get(method, {})
    kept = [r["layer"] for r in rows if r["kept_float"]]
    return (f"{method}: each of {len(rows)} units quantized alone with {cost.get('method', '?')}, perplexity "
            f"increase on {cost.get('rows', '?')} calibration window(s) ({cost.get('tokens_scored', '?')} tokens; "
            f"fp32 {cost.get('fp32_perplexity', float('nan')):.3f} there), never the evaluated ones; "
            f"{cost.get('evaluations', '?')} scoring passes, {cost.get('seconds', '?')} s. Kept in float: "
            f"{', '.join(kept) or 'none'}")


def sensitivity_rows(report: LMReport, method: str, top: int | None = SENSITIVITY_TOP) -> list[list[str]]:
    rows = report.sensitivity[method]
    return [[r["layer"], f"{r['params']:,}", f"{r['perplexity']:.3f}",
             f"{100 * r['drop']:+.2f} % [{100 * r['drop_ci'][0]:+.2f}–{100 * r['drop_ci'][1]:+.2f}]",
             "float" if r["kept_float"] else ""] for r in rows[:top]]


SENSITIVITY_HEADERS = ["unit", "weights", "perplexity alone", "increase [95% CI]", "kept"]


def to_markdown(report: LMReport) -> str:
    from quantrack.core.cpu import cpu_line

    lines = [f"# quantrack compare-lm: {report.model_summary.get('class', 'model')}", ""]
    if report.source:
        lines += [f"Model: `{report.source}`", ""]
    if report.caveat:
        lines += [f"**Caveat:** {report.caveat}", ""]
    lines += [f"**Champion: {report.champion}**: {report.champion_reason}", ""]
    if report.windows:
        lines += [f"Perplexity: {report.windows.text()}. Intervals: bootstrap over windows (seeded); increase "
                  "relative to fp32, paired on the same windows.", ""]
    lines += [f"Generation check: {report.prompts} prompt(s), greedy, share whose first {report.check_tokens} "
              f"tokens equal fp32's. Prefill and decode timed on a {report.prompt_tokens}-token prompt, side by "
              "side with fp32 in alternating windows; decode = one greedy step with the KV cache at that position.",
              ""]
    if report.environment.get("cpu"):
        lines += [f"CPU: {cpu_line(report.environment['cpu'])}; threads {report.environment.get('threads')}", ""]
    lines += ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(r) + " |" for r in table_rows(report)]
    ran = [v for v in report.variants if v.available and v.runtime]
    if ran:
        lines += ["", "Not torch eager:", ""] + [f"- **{v.name}**: {v.runtime}" for v in ran]
    gone = [v for v in report.variants if not v.available]
    if gone:
        lines += ["", "Not measured:", ""] + [f"- **{v.name}**: {v.reason}" for v in gone]
    for method in report.sensitivity:
        lines += ["", "## Per-block sensitivity", "", sensitivity_header(report, method) + ".", "",
                  "| " + " | ".join(SENSITIVITY_HEADERS) + " |", "|" + "---|" * len(SENSITIVITY_HEADERS)]
        lines += ["| " + " | ".join(r) + " |" for r in sensitivity_rows(report, method)]
        if len(report.sensitivity[method]) > SENSITIVITY_TOP:
            lines += ["", f"{len(report.sensitivity[method]) - SENSITIVITY_TOP} more units in report.json."]
    mem = next((v.memory for v in report.variants if v.memory is not None), None)
    if mem is not None:
        lines += ["", f"Memory: {mem.how}."]
    return "\n".join(lines) + "\n"
