"""Latency with its spread: side-by-side timing against fp32, and the verdict it supports.

Latency rules: the thread count is fixed and stated; each call is timed alone after a
warm-up; samples are collected until the median stops moving (or a time budget runs out);
we keep percentiles, not a single timing.

A variant is compared with fp32 *side by side*: short windows of fp32 calls and of the
variant's calls alternate (ABBA order), so a burst of load on this shared machine hits
both alike. Each window gives a ratio of medians; the speed-up is their median, and the
verdict says "faster" or "slower" only when the interquartile range of those ratios lies
wholly beyond ``MIN_EFFECT`` (5 %) on one side. Quartiles of one long run of samples
cannot do this: with thousands of samples they are narrow, and describe the noise inside
one stretch of time rather than the drift between stretches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from quantrack.core.results import FASTER, MIN_EFFECT, SAME, SLOWER, Latency


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


def verdict_from_ratios(ratios: np.ndarray, min_effect: float = MIN_EFFECT) -> str:
    """``ratios``: fp32 time / variant time, one per side-by-side window.

    'faster' when even the lower quartile is a speed-up beyond ``min_effect`` *and* the 95 % interval
    of the median ratio lies above 1, 'slower' likewise mirrored; otherwise no measurable difference.
    Why both: with few windows the quartiles can clear ``min_effect`` while the interval the report
    prints beside the verdict still holds 1.0 (seen: "1.38x [0.98-1.81] faster"), and a verdict the
    printed spread does not support is a claim the data cannot make.
    """
    from quantrack.core.stats import median_ci

    q25, _, q75 = ratio_quartiles(ratios)
    lo, hi, _ = median_ci(ratios, 0.95)
    if q25 > 1 + min_effect and lo > 1:
        return FASTER
    if q75 < 1 / (1 + min_effect) and hi < 1:
        return SLOWER
    return SAME


def ratio_quartiles(ratios) -> tuple[float, float, float]:
    """p25, p50, p75 of ratios, taken on their logarithms: a 2x speed-up and a 2x slow-down
    are mirror images, so the rule treats "faster" and "slower" alike."""
    logs = np.log(np.asarray(ratios, dtype=np.float64))
    return tuple(float(v) for v in np.exp(np.percentile(logs, [25, 50, 75])))


def time_against(run: Callable[[], Any], baseline: Callable[[], Any], *, threads: int, batch_size: int,
                 budget_s: float = 0.3, window_s: float = 0.01, min_windows: int = 6, min_calls: int = 5,
                 warmup_s: float = 0.02, tolerance: float = 0.02, min_effect: float = MIN_EFFECT,
                 clock: Callable[[], int] = time.perf_counter_ns) -> Latency:
    """Time ``run`` side by side with ``baseline`` (fp32) and judge it; returns ``run``'s Latency.

    Windows of ``k`` calls each alternate baseline/run, run/baseline, ... (``k`` sized so one
    pair of windows takes about ``window_s``). After ``min_windows`` we stop as soon as the
    interquartile range of the window ratios is within ``2 * tolerance`` of their median,
    or when ``budget_s`` is spent. The percentiles are those of every ``run`` call timed, and
    ``baseline_*`` those of every baseline call in the same windows. A verdict the pooled medians
    contradict (a "faster" variant whose p50 is not below fp32's) is withdrawn: no row of the report
    may contradict itself.
    """
    import gc

    ns = 1_000_000_000
    for f in (baseline, run):
        deadline = clock() + warmup_s * ns / 2
        f()
        while clock() < deadline:
            f()
    t0 = clock()
    for _ in range(min_calls):
        baseline()
    for _ in range(min_calls):
        run()
    per_pair = max((clock() - t0) / min_calls, 1)
    k = int(min(max(window_s * ns / per_pair, min_calls), 100_000))
    sides = (baseline, run)
    samples: list[np.ndarray] = []
    base_samples: list[np.ndarray] = []
    ratios: list[float] = []
    stable = False
    end = clock() + budget_s * ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        while True:
            order = (0, 1) if len(ratios) % 2 == 0 else (1, 0)
            medians = [0.0, 0.0]
            for side in order:
                f = sides[side]
                times = np.empty(k, dtype=np.int64)
                for i in range(k):
                    t = clock()
                    f()
                    times[i] = clock() - t
                medians[side] = float(np.median(times))
                (samples if side == 1 else base_samples).append(times)
            # max(.., 1 ns): a fake clock (or a coarse one) may time a call as zero
            ratios.append(max(medians[0], 1.0) / max(medians[1], 1.0))
            if len(ratios) >= min_windows:
                q25, q50, q75 = ratio_quartiles(ratios)
                if q75 - q25 <= 2 * tolerance * q50:
                    stable = True
                    break
                if clock() >= end:
                    break
    finally:
        if gc_was_enabled:
            gc.enable()
    lat = latency_from_samples(np.concatenate(samples).astype(np.float64) / 1000.0, threads=threads,
                               batch_size=batch_size, stable=stable)
    base = latency_from_samples(np.concatenate(base_samples).astype(np.float64) / 1000.0, threads=threads,
                                batch_size=batch_size)
    lat.baseline_samples, lat.baseline_p50_us = base.samples, base.p50_us
    lat.baseline_p90_us, lat.baseline_p99_us = base.p90_us, base.p99_us
    q25, q50, q75 = (round(v, 3) for v in ratio_quartiles(ratios))
    lat.speedup, lat.speedup_p25, lat.speedup_p75, lat.windows = q50, q25, q75, len(ratios)
    from quantrack.core.stats import median_ci

    lo, hi, _ = median_ci(ratios, 0.95)
    lat.speedup_ci = [round(lo, 3), round(hi, 3)]
    lat.verdict = verdict_from_ratios(np.asarray(ratios), min_effect)
    if (lat.verdict == FASTER and base.p50_us <= lat.p50_us) or (lat.verdict == SLOWER and base.p50_us >= lat.p50_us):
        lat.verdict = SAME
    return lat


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
