"""all-MiniLM-L6-v2: the ONNX Runtime recipes and the OpenVINO + NNCF methods against torch fp32.

Evaluated on the first --sentences sentences of examples/minilm.py, calibrated on the remaining
ones (never evaluated), 32 tokens, mean-pooled embeddings; score = mean cosine to fp32's with its
95 % interval; speed-up against torch fp32 eager, side by side, at batch 1 and --batch; one thread.
Also records what ran each variant (ORT's provider, OpenVINO's inference precision) and the time
to produce it. Writes benchmarks/results/minilm_onnx_openvino_32.md (or --out) and prints it; BENCHMARKS.md's
(k) comes from benchmarks/minilm.py instead (64 evaluated sentences, 64 other ones calibrating, like (e)
and (j); see its docstring).

    python benchmarks/minilm_onnx_openvino.py --quick-timer      # short run on a shared machine
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from _shared import HERE, QUICK_TIMER_NOTE, load_line, machine_line, minilm_example, use_quick_timer

METHODS = ("onnx-fp32", "onnx-int8-dynamic", "onnx-int8-static", "openvino-fp32", "openvino", "openvino-int8",
           "openvino-int8-weights", "openvino-int4-weights")


def _speedup(v, batch: int) -> str:
    lat = v.latency_at(batch)
    if lat is None or lat.speedup is None:
        return "–"
    spread = f" ({lat.speedup_p25:.2f}–{lat.speedup_p75:.2f})" if lat.speedup_p25 is not None else ""
    return f"{lat.speedup:.2f}x{spread} {lat.verdict or ''}".strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=32, help="evaluated; the rest of the list calibrates")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--quick-timer", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "minilm_onnx_openvino_32.md"))
    args = parser.parse_args()
    load_before = os.getloadavg()
    if args.quick_timer:
        use_quick_timer()
    import quantrack

    ex = minilm_example()
    if not 0 < args.sentences < len(ex.SENTENCES):
        raise SystemExit(f"--sentences must leave calibration sentences: 1..{len(ex.SENTENCES) - 1}")
    model, tokenizer = ex.load()
    evaluated = ex.tokenize(tokenizer, ex.SENTENCES[:args.sentences])
    calibration = ex.tokenize(tokenizer, ex.SENTENCES[args.sentences:])
    report = quantrack.compare(model, calibration=calibration, eval_data=evaluated, metric=ex.cosine,
                               metric_name="cosine", methods=args.methods.split(","), max_drop=0.01, threads=1,
                               batch_sizes=(1, args.batch))
    n_cal = len(ex.SENTENCES) - args.sentences
    lines = [f"# all-MiniLM-L6-v2: ONNX Runtime recipes and OpenVINO + NNCF ({args.sentences} sentences)", "",
             f"Produced by `python benchmarks/minilm_onnx_openvino.py{' --quick-timer' if args.quick_timer else ''}`"
             f": {args.sentences} evaluated sentences, calibration on the {n_cal} other sentences of examples/minilm.py, "
             "32 tokens, mean-pooled embeddings; cosine = mean cosine similarity to torch fp32's embeddings "
             "[95 % interval]; speed-up = torch fp32 eager median / the variant's, side by side (window spread); "
             "1 thread.", "", f"CPU: {machine_line()}." + (QUICK_TIMER_NOTE if args.quick_timer else ""), "",
             load_line(load_before), "",
             f"| method | cosine [95% CI] | file vs fp32 | speed-up b1 | speed-up b{args.batch} | time to produce | "
             "ran with |", "|---|---|---|---|---|---|---|"]
    for v in report.variants:
        if not v.available:
            continue
        ci = f" [{v.stats.score_ci[0]:.4f}, {v.stats.score_ci[1]:.4f}]" if v.stats and v.stats.score_ci else ""
        made = f"{v.seconds_to_quantize:.1f} s" if v.seconds_to_quantize is not None else "–"
        lines.append(f"| {v.name} | {v.score:.4f}{ci} | {v.file_ratio:.2f}x | {_speedup(v, 1)} | "
                     f"{_speedup(v, args.batch)} | {made} | {v.runtime or 'torch eager'} |")
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
