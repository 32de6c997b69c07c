"""all-MiniLM-L6-v2 through quantrack.compare: every method, cosine to fp32, latency at batch 1 and 64.

64 fixed sentences (examples/minilm.py), 32 tokens each, mean-pooled embeddings; calibration
on the same sentences, or with --distinct-calibration on 64 other ones (CALIBRATION_SENTENCES);
one thread for torch and ONNX Runtime. Writes a markdown table to benchmarks/results/minilm.md
(or --out) and prints it: per variant the cosine, sizes, latency, how it ran (eager or compiled)
and the seconds it took to produce (of which compiling).

BENCHMARKS.md's MiniLM tables are three runs of this script over three groups of methods, at the
full timer, each group in its own process (run side by side they fit in ~an hour on 2 loaded cores;
one process for every method would take hours: see torchao-int8-dynamic below). Each table's
speed-ups are against the fp32 timed in the same run:

    python benchmarks/minilm.py --distinct-calibration --batch-sizes 1,32 \
        --methods dynamic-int8,static-int8,qat-int8,int8-weight-only,int4-weight-only,pt2e-int8-static,pt2e-qat-int8,mixed-int8
    python benchmarks/minilm.py --distinct-calibration --batch-sizes 1,32 \
        --methods torchao-int8-dynamic-compiled,pt2e-int8-static-compiled --out benchmarks/results/minilm_torch_recipes.md
    python benchmarks/minilm.py --distinct-calibration --batch-sizes 1,32 \
        --methods onnx-fp32,onnx-int8-dynamic,onnx-int8-static,onnx-mixed-int8,openvino-fp32,openvino,openvino-int8,openvino-int8-weights,openvino-int4-weights \
        --out benchmarks/results/minilm_onnx_openvino.md

fp16 and bf16 were left out of the first for time (seconds a call at batch 32 on an AVX2 CPU; add them
to the list where that is affordable). torchao-int8-dynamic (eager) is in none of them: without Inductor its int8 matmul runs a slow fallback
(91 s per call at batch 64 in the quick-timer run of 2026-12-01, 0.04x fp32), so the full timer's ~36
calls at batch 32 would cost most of an hour for that one cell; its compiled twin is what a user would run.

--quick-timer lowers the side-by-side timer's minimum (6 windows of >= 5 pairs) to 2 windows of
1 pair: fp16 takes tens of seconds per call at batch 64 on an AVX2-only CPU, so the full minimum
costs an hour; the file states when it was used, and its verdicts then rest on fewer samples.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from _shared import HERE, QUICK_TIMER_NOTE, load_line, machine_line, minilm_example, use_quick_timer


def _speedup(lat) -> str:
    if lat is None or lat.speedup is None:
        return "–"
    ci = f" [{lat.speedup_ci[0]:.2f}–{lat.speedup_ci[1]:.2f}]" if lat.speedup_ci else ""
    return f"{lat.speedup:.2f}x{ci} {lat.verdict or ''}".strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--quick-timer", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "minilm.md"))
    parser.add_argument("--methods", default="all", help="all, or names separated by commas")
    parser.add_argument("--batch-sizes", default="1,64", help="latency batch sizes, separated by commas")
    parser.add_argument("--distinct-calibration", action="store_true",
                        help="calibrate on 64 other sentences than the evaluated ones")
    args = parser.parse_args()
    load_before = os.getloadavg()
    if args.quick_timer:
        use_quick_timer()

    from quantrack.report.writers import runtime_text, table_headers, table_rows

    ex = minilm_example()
    methods = "all" if args.methods == "all" else args.methods.split(",")
    batch_sizes = tuple(int(b) for b in args.batch_sizes.split(","))
    report = ex.compare(args.sentences, methods, threads=1, batch_sizes=batch_sizes,
                        distinct_calibration=args.distinct_calibration)
    heads = table_headers(report)
    keep = [i for i, h in enumerate(heads) if h not in ("accuracy", "agreement")]  # no labels: a cosine only
    options = "".join(f" {a}" for a, on in (("--quick-timer", args.quick_timer),
                                            ("--distinct-calibration", args.distinct_calibration)) if on)
    options += "".join(f" --{k} {v}" for k, v, default in (("methods", args.methods, "all"),
                                                           ("batch-sizes", args.batch_sizes, "1,64"))
                       if v != default)
    calibration = ("calibration on 64 other sentences (CALIBRATION_SENTENCES)" if args.distinct_calibration
                   else "calibration on the same sentences")
    lines = [f"# all-MiniLM-L6-v2 through quantrack.compare ({len(ex.SENTENCES[:args.sentences])} sentences)", "",
             f"Produced by `python benchmarks/minilm.py{options}`: "
             f"{args.sentences} fixed sentences (examples/minilm.py) of 32 tokens, mean-pooled embeddings, "
             f"score = mean cosine similarity to the fp32 embeddings, {calibration}, "
             f"1 thread, latency at batch {' and '.join(str(min(b, args.sentences)) for b in batch_sizes)}.", "",
             f"CPU: {machine_line()}." + (QUICK_TIMER_NOTE if args.quick_timer else ""), "",
             load_line(load_before), "",
             "| " + " | ".join([*(heads[i] for i in keep), "speed-up (b=1)", "ran as; time to produce"]) + " |",
             "|" + "---|" * (len(keep) + 2)]
    for v, row in zip(report.variants, table_rows(report), strict=True):
        cells = [row[i] if i < len(row) else "" for i in keep]
        extra = [_speedup(v.latency_at(min(batch_sizes))), runtime_text(v)] if v.available else ["", ""]
        lines.append("| " + " | ".join([*cells, *extra]) + " |")
    lines.append("")
    for v in report.variants:
        if not v.available:
            lines.append(f"- {v.name}: {v.reason}")
    lines += ["", f"Champion (max drop 0.01 of cosine, prefer size): **{report.champion}** — {report.champion_reason}"]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
