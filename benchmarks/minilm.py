"""all-MiniLM-L6-v2 through quantrack.compare: every method, cosine to fp32, latency at batch 1 and 64.

64 fixed sentences (examples/minilm.py), 32 tokens each, mean-pooled embeddings; calibration
and evaluation on the same sentences; one thread for torch and ONNX Runtime. Writes a markdown
table to benchmarks/results/minilm.md (or --out) and prints it.

--quick-timer lowers the side-by-side timer's minimum (6 windows of >= 5 pairs) to 2 windows of
1 pair: fp16 takes tens of seconds per call at batch 64 on an AVX2-only CPU, so the full minimum
costs an hour; the file states when it was used, and its verdicts then rest on fewer samples.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _shared import HERE, QUICK_TIMER_NOTE, machine_line, minilm_example, use_quick_timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--quick-timer", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "minilm.md"))
    args = parser.parse_args()
    if args.quick_timer:
        use_quick_timer()

    from quantrack.report.writers import table_headers, table_rows

    ex = minilm_example()
    report = ex.compare(args.sentences, "all", threads=1, batch_sizes=(1, 64))
    heads = table_headers(report)
    keep = [i for i, h in enumerate(heads) if h not in ("accuracy", "agreement")]  # no labels: a cosine only
    lines = [f"# all-MiniLM-L6-v2 through quantrack.compare ({len(ex.SENTENCES[:args.sentences])} sentences)", "",
             f"Produced by `python benchmarks/minilm.py{' --quick-timer' if args.quick_timer else ''}`: "
             f"{args.sentences} fixed sentences (examples/minilm.py) of 32 tokens, mean-pooled embeddings, "
             "score = mean cosine similarity to the fp32 embeddings, calibration on the same sentences, "
             f"1 thread, latency at batch 1 and {min(64, args.sentences)}.", "",
             f"CPU: {machine_line()}." + (QUICK_TIMER_NOTE if args.quick_timer else ""), "",
             "| " + " | ".join(heads[i] for i in keep) + " |", "|" + "---|" * len(keep)]
    for row in table_rows(report):
        lines.append("| " + " | ".join(row[i] if i < len(row) else "" for i in keep) + " |")
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
