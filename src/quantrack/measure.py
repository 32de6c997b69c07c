"""Honest figures for a variant: accuracy, agreement, sizes and latency with its spread.

Latency rules: the thread count is fixed and stated; each call is timed alone after a
warm-up; samples are collected in growing blocks until the median stops moving (or a
time budget runs out); we keep percentiles, not a single timing. A difference is called
a speed-up only when the interquartile ranges of the two variants do not overlap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

FASTER, SLOWER, SAME = "faster", "slower", "no measurable difference"


@dataclass
class Latency:
    batch_size: int
    threads: int
    samples: int
    p10_us: float
    p25_us: float
    p50_us: float
    p75_us: float
    p90_us: float
    p99_us: float
    stable: bool  # the median settled before the budget ran out
    speedup: float | None = None  # fp32 median / this median
    verdict: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(truth)))


def agreement(pred: np.ndarray, reference: np.ndarray) -> float:
    """Share of rows where a variant predicts the same label as fp32."""
    return accuracy(pred, reference)


def time_calls(run: Callable[[], Any], *, threads: int, batch_size: int, budget_s: float = 0.3,
               warmup_s: float = 0.02, min_samples: int = 30, tolerance: float = 0.02, min_time_s: float = 0.0,
               clock: Callable[[], int] = time.perf_counter_ns) -> Latency:
    """Time ``run`` call by call until the median is stable or ``budget_s`` is spent.

    Stability: the medians of the first and second half of the samples differ by less
    than ``tolerance`` (relative). The block size doubles each round. The budget is checked
    after every call once ``min_samples`` are in, so a doubled block cannot overrun it.
    ``clock`` (nanoseconds) times the calls and the deadlines alike, so a fake clock drives it.
    ``min_time_s``: the timed calls must also add up to this long before the median counts
    as settled; a 2 µs call otherwise "settles" on 30 samples, 60 µs of data inside one
    scheduler hiccup. Garbage collection is off while timing, as in ``timeit``.
    """
    import gc

    ns = 1_000_000_000
    deadline = clock() + warmup_s * ns
    run()
    while clock() < deadline:
        run()
    samples: list[int] = []
    block, stable = min_samples, False
    end = clock() + budget_s * ns
    min_ns = min(min_time_s, budget_s) * ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while True:
            for _ in range(block):
                t0 = clock()
                run()
                t1 = clock()
                samples.append(t1 - t0)
                if t1 >= end and len(samples) >= min_samples:
                    break
            half = len(samples) // 2
            m1, m2 = np.median(samples[:half]), np.median(samples[half:])
            if abs(m1 - m2) <= tolerance * max(m1, m2) and sum(samples) >= min_ns:
                stable = True
                break
            if clock() >= end:
                break
            block = len(samples)
    finally:
        if gc_was_enabled:
            gc.enable()
    return latency_from_samples(np.asarray(samples, dtype=np.float64) / 1000.0, threads=threads,
                                batch_size=batch_size, stable=stable)


def latency_from_samples(us: np.ndarray, *, threads: int, batch_size: int, stable: bool = True) -> Latency:
    p = np.percentile(us, [10, 25, 50, 75, 90, 99])
    return Latency(batch_size, threads, int(len(us)), *(round(float(v), 3) for v in p), stable=stable)


def verdict(candidate: Latency, baseline: Latency) -> str:
    """'faster' / 'slower' only when the interquartile ranges do not overlap."""
    if candidate.p75_us < baseline.p25_us:
        return FASTER
    if candidate.p25_us > baseline.p75_us:
        return SLOWER
    return SAME


def compare(candidate: Latency, baseline: Latency) -> Latency:
    """Fill in speedup and verdict of ``candidate`` against the fp32 ``baseline``."""
    candidate.speedup = round(baseline.p50_us / candidate.p50_us, 3) if candidate.p50_us > 0 else None
    candidate.verdict = verdict(candidate, baseline)
    return candidate


class thread_limit:
    """Fix torch's intra-op threads for the block, restoring them after."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def __enter__(self) -> None:
        import torch

        self.previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.previous)
