"""What the slow benchmark scripts (minilm, mnist, mixed_precision) share: the MiniLM example,
the shortened timer and the machine line, so each is written once."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent

QUICK_TIMER_NOTE = " Timer minimum lowered to 2 windows of 1 pair (--quick-timer): verdicts rest on few samples."


def minilm_example():
    """examples/minilm.py as a module: its sentences, model loading, tokenizer and cosine metric."""
    spec = importlib.util.spec_from_file_location("minilm_example", HERE.parent / "examples" / "minilm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def use_quick_timer() -> None:
    """The side-by-side timer's minimum (6 windows of >= 5 pairs) down to 2 windows of 1 pair: fp16
    takes seconds per call on an AVX2-only CPU, so the full minimum costs an hour. compare() reads
    time_against from the timing module at each call, so this applies to the whole process."""
    from quantrack.evaluate import timing

    timing.time_against = functools.partial(timing.time_against, min_windows=2, min_calls=1)


def machine_line(threads: int = 1) -> str:
    """The report header's CPU line (evaluate/hardware.py): model, the int8/bf16 instruction sets it
    has and lacks, torch's kernels, ONNX Runtime, threads."""
    from quantrack.core.cpu import cpu_line
    from quantrack.evaluate.hardware import cpu_facts

    return cpu_line(cpu_facts(threads))


def load_line(before: tuple[float, float, float]) -> str:
    """The machine's load average (1, 5, 15 min) before the run and now: the machine is shared, so a
    reader weighs the side-by-side ratios (never the absolute times) against it."""
    after = os.getloadavg()
    return ("Load average (1, 5, 15 min) before → after: " + ", ".join(f"{x:.2f}" for x in before) + " → "
            + ", ".join(f"{x:.2f}" for x in after) + " (shared machine: read the side-by-side ratios, not the "
            "absolute times).")
