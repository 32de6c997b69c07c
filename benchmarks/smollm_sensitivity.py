"""SmolLM2-135M-Instruct's per-block sensitivity alone (quantrack.lm.per_block.lm_sensitivity): each
transformer block quantized with one LM method, its perplexity increase on calibration windows of the
second half of CPython's pydoc topics (the half benchmarks/smollm.py never scores). Writes
benchmarks/results/smollm_sensitivity.md (another --base: smollm_sensitivity_BASE.md).

    python benchmarks/smollm_sensitivity.py                   # int8-dynamic, 2 windows of 256 tokens
    python benchmarks/smollm_sensitivity.py --base dynamic-int8 --windows 4
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="int8-dynamic")
    parser.add_argument("--context", type=int, default=256)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args(argv)

    from _shared import machine_line
    from smollm import smollm_example

    from quantrack.lm.corpus import pydoc_texts
    from quantrack.lm.per_block import lm_sensitivity

    class Progress:
        def stage(self, text: str) -> None:
            print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    model, tokenizer, source = smollm_example().load()
    topics = pydoc_texts()
    t0 = time.perf_counter()
    table = lm_sensitivity(model, tokenizer, topics[len(topics) // 2:], base=args.base, context=args.context,
                           windows=args.windows, threads=args.threads, progress=Progress())
    seconds = time.perf_counter() - t0
    lines = [f"# SmolLM2-135M-Instruct: per-block sensitivity to {args.base} (benchmarks/smollm_sensitivity.py)", "",
             "Each unit (a transformer block: its 7 Linear layers; or a Linear outside the blocks the method "
             f"quantizes) quantized alone with {args.base}, the rest fp32; perplexity on {table.rows} evenly spaced "
             f"window(s) of {args.context} tokens ({table.tokens_scored:,} tokens scored) of the second half of "
             f"pydoc_data.topics, where fp32 scores {table.fp32_perplexity:.3f}. Increase relative to fp32 with its "
             "paired bootstrap interval over those windows (few windows: a coarse interval; the ranking is what "
             f"mixed-blocks uses). {len(table) + 1} scoring passes, {seconds:.0f} s.", "",
             f"CPU: {machine_line(args.threads)}", "",
             "| unit | weights | perplexity alone | increase [95% CI] |", "|---|---|---|---|"]
    lines += [f"| {r['layer']} | {r['params']:,} | {r['perplexity']:.3f} | {100 * r['drop']:+.2f} % "
              f"[{100 * r['drop_ci'][0]:+.2f}–{100 * r['drop_ci'][1]:+.2f}] |" for r in table]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "smollm_sensitivity" + ("" if args.base == "int8-dynamic" else f"_{args.base}")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
