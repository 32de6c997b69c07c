"""PT2E int8 static on all-MiniLM-L6-v2 with reduce_range off and on: cosine to fp32 of each.

X86InductorQuantizer's activations are uint8; ``reduce_range=True`` keeps them to 7 bits (0..127),
the old FBGEMM advice for CPUs without VNNI, whose AVX2 int8 dot product (vpmaddubsw) adds pairs
of u8*s8 products into saturating 16-bit sums. This script measures what the 8th bit is worth on
MiniLM's accuracy: 64 sentences of examples/minilm.py evaluated, calibrated on the 64
CALIBRATION_SENTENCES, 32 tokens, mean-pooled embeddings, mean cosine to fp32's with its 95 %
bootstrap interval. Eager runs the graph's reference arithmetic (quantize/dequantize in float);
``--compile`` also runs each through Inductor (oneDNN's int8 kernels, where saturation would show),
~10 minutes of compiling each on a loaded 2-core machine. Writes benchmarks/results/pt2e_reduce_range.md.

    python benchmarks/pt2e_reduce_range.py [--compile]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from _shared import HERE, load_line, machine_line, minilm_example


def _interval(per_row: np.ndarray, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = [per_row[rng.integers(0, len(per_row), len(per_row))].mean() for _ in range(2000)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--compile", action="store_true", help="also score each graph compiled by Inductor (no timing)")
    parser.add_argument("--out", default=str(HERE / "results" / "pt2e_reduce_range.md"))
    args = parser.parse_args()
    load_before = os.getloadavg()

    import torch

    from quantrack.methods import _compile, _pt2e

    torch.set_num_threads(1)
    ex = minilm_example()
    model, tokenizer = ex.load()
    model.eval()
    evaluated = ex.tokenize(tokenizer, ex.SENTENCES[:args.sentences])
    calibration = ex.tokenize(tokenizer, ex.CALIBRATION_SENTENCES[:args.sentences])
    example = _pt2e.tensors(tuple(a[:2] for a in evaluated))
    inputs = _pt2e.tensors(evaluated)

    def embed(module) -> np.ndarray:
        with torch.no_grad():
            out = module(*inputs)
        return np.asarray(out.detach().float().numpy() if hasattr(out, "numpy") else out)

    reference = embed(model)
    norm = np.linalg.norm(reference, axis=1)

    def per_row_cosine(outputs: np.ndarray) -> np.ndarray:
        return (outputs * reference).sum(axis=1) / (np.linalg.norm(outputs, axis=1) * norm)

    apis = _pt2e.apis()
    rows = []
    for reduce_range in (False, True):
        start = time.perf_counter()
        graph = _pt2e.export(model, example)
        with _pt2e.quiet():
            prepared = apis.prepare(graph, _pt2e.quantizer(apis, qat=False, reduce_range=reduce_range))
        _pt2e.calibrate(prepared, calibration, max_rows=256)
        converted = _pt2e.convert(apis, prepared)
        produced = time.perf_counter() - start
        runs = [("eager", converted)]
        if args.compile:
            compiled, seconds = _compile.compile_module(converted, tuple(t.numpy() for t in example))
            runs.append((f"inductor (compiled in {seconds:.0f} s)", compiled))
        for how, module in runs:
            c = per_row_cosine(embed(module))
            lo, hi = _interval(c)
            rows.append(f"| {reduce_range} | {how} | {c.mean():.4f} [{lo:.4f}, {hi:.4f}] | {c.min():.4f} | "
                        f"{produced:.1f} s |")
    lines = ["# PT2E int8 static on all-MiniLM-L6-v2: reduce_range off and on", "",
             f"Produced by `python benchmarks/pt2e_reduce_range.py{' --compile' if args.compile else ''}`: "
             f"{args.sentences} sentences of examples/minilm.py evaluated, calibration on {args.sentences} "
             "CALIBRATION_SENTENCES, 32 tokens, mean-pooled embeddings; X86InductorQuantizer's default config "
             "(per-channel symmetric int8 weights, per-tensor uint8 activations, histogram observers) with "
             "`reduce_range` as given; cosine = mean cosine to fp32's [95 % bootstrap interval], worst sentence "
             "beside it; 1 thread.", "", f"CPU: {machine_line()}.", "", load_line(load_before), "",
             "| reduce_range | ran as | cosine [95% CI] | worst sentence | time to export, calibrate, convert |",
             "|---|---|---|---|---|", *rows]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
