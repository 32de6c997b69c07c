"""Verdicts from the spread of synthetic timings, and the adaptive timing loop driven by a fake clock."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantrack.measure import FASTER, SAME, SLOWER, Latency, compare, latency_from_samples, time_calls, verdict


def timings(median_us: float, spread_us: float, n: int = 200, seed: int = 0) -> Latency:
    us = np.random.default_rng(seed).normal(median_us, spread_us, n)
    return latency_from_samples(us, threads=1, batch_size=1)


def box(p25: float, p50: float, p75: float) -> Latency:
    return Latency(1, 1, 30, p25, p25, p50, p75, p75, p75, stable=True)


# --- latency_from_samples ------------------------------------------------------------------------------------

def test_percentiles_count_and_flags_come_from_the_samples():
    lat = latency_from_samples(np.arange(1, 101, dtype=float), threads=2, batch_size=360, stable=False)
    assert (lat.batch_size, lat.threads, lat.samples, lat.stable) == (360, 2, 100, False)
    assert [lat.p10_us, lat.p25_us, lat.p50_us, lat.p75_us, lat.p90_us, lat.p99_us] == \
        [10.9, 25.75, 50.5, 75.25, 90.1, 99.01]
    assert lat.speedup is None and lat.verdict is None  # only compare() judges


# --- verdict / compare ---------------------------------------------------------------------------------------

def test_clearly_faster():
    base, cand = timings(100, 3, seed=1), compare(timings(50, 3, seed=2), timings(100, 3, seed=1))
    assert verdict(cand, base) == FASTER and cand.verdict == FASTER
    assert cand.speedup == pytest.approx(2.0, rel=0.03)


def test_clearly_slower():
    cand = compare(timings(180, 5, seed=3), timings(100, 3, seed=1))
    assert cand.verdict == SLOWER
    assert cand.speedup == pytest.approx(100 / 180, rel=0.03)


def test_overlapping_spreads_are_no_measurable_difference_whatever_the_medians_say():
    base, cand = timings(100, 10, seed=4), timings(96, 10, seed=5)
    assert cand.p50_us < base.p50_us  # the median alone would call it a speed-up
    compare(cand, base)
    assert cand.verdict == SAME and cand.speedup > 1


def test_a_narrow_gap_counts_only_when_the_boxes_are_apart():
    base = box(95, 100, 105)
    assert verdict(box(80, 90, 94.9), base) == FASTER
    assert verdict(box(85, 90, 95), base) == SAME  # touching is not apart
    assert verdict(box(105, 110, 115), base) == SAME
    assert verdict(box(105.1, 110, 115), base) == SLOWER


def test_a_wide_candidate_spread_hides_a_lower_median():
    assert verdict(box(40, 60, 99), box(95, 100, 105)) == SAME


def test_compare_fills_speedup_and_verdict_in_place():
    cand = box(40, 50, 60)
    assert compare(cand, box(95, 100, 105)) is cand
    assert (cand.speedup, cand.verdict) == (2.0, FASTER)
    assert compare(box(0, 0, 0), box(95, 100, 105)).speedup is None  # no division by a zero median


quartiles = st.tuples(st.floats(1, 1e6), st.floats(0, 1e5), st.floats(0, 1e5)).map(
    lambda t: box(t[0], t[0] + t[1], t[0] + t[1] + t[2]))


@settings(max_examples=200, deadline=None)
@given(quartiles, quartiles)
def test_verdicts_are_antisymmetric(a, b):
    flip = {FASTER: SLOWER, SLOWER: FASTER, SAME: SAME}
    assert verdict(b, a) == flip[verdict(a, b)]
    assert verdict(a, a) == SAME


# --- time_calls: the adaptive loop, with a fake clock --------------------------------------------------------

class FakeTimer:
    """A clock that only moves when ``run`` is called: call i takes ``duration(i)`` ns (call 0 is the warm-up)."""

    def __init__(self, duration: Callable[[int], int]) -> None:
        self.duration, self.now, self.calls = duration, 0, 0

    def clock(self) -> int:
        return self.now

    def run(self) -> None:
        self.now += self.duration(self.calls)
        self.calls += 1


def test_steady_calls_stop_after_the_first_block():
    t = FakeTimer(lambda i: 1_000)
    lat = time_calls(t.run, threads=1, batch_size=1, warmup_s=0, min_samples=30, clock=t.clock)
    assert lat.stable and lat.samples == 30 and t.calls == 31  # one warm-up call, then the block
    assert lat.p10_us == lat.p50_us == lat.p99_us == 1.0


def test_the_warmup_runs_for_its_time_and_is_not_sampled():
    t = FakeTimer(lambda i: 10_000 if i < 5 else 1_000)  # the first calls are slow (cold caches)
    lat = time_calls(t.run, threads=1, batch_size=1, warmup_s=50e-6, min_samples=30, clock=t.clock)
    assert t.calls == 5 + 30 and lat.samples == 30  # 5 calls of 10 µs fill the 50 µs warm-up
    assert lat.p99_us == 1.0  # none of the slow warm-up calls leaked into the samples


def test_blocks_double_until_the_halves_agree():
    # after the warm-up, 15 fast calls then slow ones: the median moves until the fast ones are a minority
    t = FakeTimer(lambda i: 1_000 if i <= 15 else 2_000)
    lat = time_calls(t.run, threads=1, batch_size=1, warmup_s=0, min_samples=30, budget_s=1.0, clock=t.clock)
    # 30 samples: halves 1.0 vs 2.0 µs; 60: 1.5 vs 2.0; 120: 2.0 vs 2.0 -> stable
    assert lat.stable and lat.samples == 120
    assert lat.p50_us == 2.0 and lat.p10_us == 1.0


def test_an_unsettled_median_stops_at_the_budget():
    t = FakeTimer(lambda i: 1_000 + 20 * i)  # every call slower than the last: never stable
    budget_s = 0.01
    lat = time_calls(t.run, threads=1, batch_size=1, warmup_s=0, min_samples=30, budget_s=budget_s, clock=t.clock)
    assert not lat.stable
    timed = [1_000 + 20 * i for i in range(1, lat.samples + 1)]
    assert sum(timed) >= budget_s * 1e9 > sum(timed[:-1])  # stopped by the first call past the budget
    assert lat.samples == t.calls - 1


def test_min_samples_are_kept_even_past_the_budget():
    t = FakeTimer(lambda i: 1_000_000 + 50_000 * i)  # 1 ms calls drifting 5% a call; budget of 2 ms
    lat = time_calls(t.run, threads=1, batch_size=1, warmup_s=0, min_samples=30, budget_s=0.002, clock=t.clock)
    assert lat.samples == 30 and not lat.stable


def test_tolerance_decides_what_stable_means():
    drift = lambda i: 1_000 if i <= 15 else 1_010  # noqa: E731 - a 1% step
    loose, strict = FakeTimer(drift), FakeTimer(drift)
    assert time_calls(loose.run, threads=1, batch_size=1, warmup_s=0, tolerance=0.02, clock=loose.clock).samples == 30
    assert time_calls(strict.run, threads=1, batch_size=1, warmup_s=0, tolerance=0.001, clock=strict.clock).samples > 30


def test_a_real_function_is_timed_within_its_budget():
    calls = []
    started = time.perf_counter()
    lat = time_calls(lambda: calls.append(sum(range(200))), threads=1, batch_size=7, budget_s=0.05, warmup_s=0.005)
    elapsed = time.perf_counter() - started
    assert lat.samples >= 30 and len(calls) > lat.samples and lat.batch_size == 7
    assert 0 < lat.p10_us <= lat.p50_us <= lat.p99_us
    assert elapsed < 0.05 + 0.005 + 0.25  # budget + warm-up + slack for a busy machine
