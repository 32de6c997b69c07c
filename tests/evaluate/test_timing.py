"""Verdicts from the spread of synthetic timings, and the adaptive timing loop driven by a fake clock."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantrack.core.results import FASTER, MIN_EFFECT, SAME, SLOWER
from quantrack.evaluate.timing import latency_from_samples, time_against, time_calls, verdict_from_ratios


# --- latency_from_samples ------------------------------------------------------------------------------------

def test_percentiles_count_and_flags_come_from_the_samples():
    lat = latency_from_samples(np.arange(1, 101, dtype=float), threads=2, batch_size=360, stable=False)
    assert (lat.batch_size, lat.threads, lat.samples, lat.stable) == (360, 2, 100, False)
    assert [lat.p10_us, lat.p25_us, lat.p50_us, lat.p75_us, lat.p90_us, lat.p99_us] == \
        [10.9, 25.75, 50.5, 75.25, 90.1, 99.01]
    assert lat.speedup is None and lat.verdict is None  # only time_against() judges


# --- verdict_from_ratios ---------------------------------------------------------------------------------------

def test_clearly_faster_and_clearly_slower():
    assert verdict_from_ratios(np.array([1.9, 2.0, 2.1, 2.0, 1.95, 2.05])) == FASTER
    assert verdict_from_ratios(np.array([0.55, 0.56, 0.54, 0.55, 0.57, 0.53])) == SLOWER


def test_a_steady_but_tiny_difference_is_no_measurable_difference():
    # every window agrees the variant is 3 % faster: real, perhaps, but below MIN_EFFECT
    assert MIN_EFFECT == 0.05
    assert verdict_from_ratios(np.full(8, 1.03)) == SAME
    assert verdict_from_ratios(np.full(8, 1 / 1.03)) == SAME


def test_a_spread_that_straddles_the_threshold_is_no_verdict():
    # median 1.3x, but three windows in eight saw no gain: the spread decides, not the median
    ratios = np.array([0.95, 0.98, 1.0, 1.3, 1.3, 1.35, 1.4, 1.4])
    assert np.median(ratios) > 1.05 and verdict_from_ratios(ratios) == SAME


def test_quartiles_beyond_the_threshold_but_an_interval_holding_1_is_no_verdict():
    # 6 windows: the median's 95 % interval is (min, max); the quartiles clear 1.05, one window saw 0.98
    ratios = np.array([0.98, 1.3, 1.38, 1.4, 1.5, 1.81])
    assert np.exp(np.percentile(np.log(ratios), 25)) > 1.05
    assert verdict_from_ratios(ratios) == SAME
    assert verdict_from_ratios(1 / ratios) == SAME
    assert verdict_from_ratios(np.array([1.02, 1.3, 1.38, 1.4, 1.5, 1.81])) == FASTER


def test_the_threshold_itself_is_not_beyond():
    assert verdict_from_ratios(np.full(6, 1.05)) == SAME
    assert verdict_from_ratios(np.full(6, 1.0501)) == FASTER


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.01, 100), min_size=1, max_size=30))
def test_verdicts_are_antisymmetric(ratios):
    flip = {FASTER: SLOWER, SLOWER: FASTER, SAME: SAME}
    r = np.array(ratios)
    assert verdict_from_ratios(1 / r) == flip[verdict_from_ratios(r)]


# --- time_against: side by side with fp32, on a shared fake clock --------------------------------------------

class SharedClock:
    """One clock for two functions; ``load(t)`` multiplies every call's cost while it is on."""

    def __init__(self, base_ns: int, cand_ns: int, load=lambda now: 1.0) -> None:
        self.now, self.load = 0, load
        self.base = self._runner(base_ns)
        self.cand = self._runner(cand_ns)

    def _runner(self, cost: int):
        def run() -> None:
            self.now += int(cost * self.load(self.now))
        return run

    def clock(self) -> int:
        return self.now


def test_time_against_measures_the_speed_up_and_the_candidates_own_percentiles():
    c = SharedClock(base_ns=10_000, cand_ns=5_000)
    lat = time_against(c.cand, c.base, threads=1, batch_size=360, budget_s=0.1, warmup_s=0, clock=c.clock)
    assert (lat.speedup, lat.speedup_p25, lat.speedup_p75) == (2.0, 2.0, 2.0)
    assert lat.verdict == FASTER and lat.stable and lat.windows == 6  # settled at the minimum
    assert lat.p50_us == lat.p99_us == 5.0 and lat.batch_size == 360
    assert lat.samples == 6 * (0.01e9 // 15_000)  # windows x calls per window (one pair ~ window_s)
    # fp32's figures from the very same windows: the p50 columns agree with the verdict
    assert (lat.baseline_p50_us, lat.baseline_samples) == (10.0, lat.samples)
    assert lat.speedup_ci == [2.0, 2.0]


def test_the_baseline_percentiles_show_a_burst_only_it_suffered():
    # fp32's calls are slow while the fake clock is between 20 and 25 ms; the variant's never are
    c = SharedClock(10_000, 10_000)
    base_cost = {"ns": 10_000}

    def base() -> None:
        c.now += 30_000 if 20e6 <= c.now < 25e6 else base_cost["ns"]
    lat = time_against(c.cand, base, threads=1, batch_size=1, budget_s=0.1, warmup_s=0, clock=c.clock)
    assert lat.p99_us == 10.0 and lat.baseline_p99_us == 30.0 and lat.baseline_p50_us == 10.0
    assert lat.verdict == SAME  # equal medians: no verdict, whatever the burst did to fp32's tail


def test_a_verdict_the_pooled_medians_contradict_is_withdrawn(monkeypatch):
    import quantrack.evaluate.timing as timing

    monkeypatch.setattr(timing, "verdict_from_ratios", lambda ratios, min_effect: FASTER)
    c = SharedClock(10_000, 12_000)  # the variant is slower in every window
    lat = time_against(c.cand, c.base, threads=1, batch_size=1, budget_s=0.05, warmup_s=0, clock=c.clock)
    assert lat.baseline_p50_us < lat.p50_us and lat.verdict == SAME


def test_a_burst_of_load_hits_both_sides_and_does_not_invent_a_verdict():
    # equal costs; between 20 and 40 ms of fake time everything runs 3x slower
    c = SharedClock(10_000, 10_000, load=lambda now: 3.0 if 20e6 <= now < 40e6 else 1.0)
    lat = time_against(c.cand, c.base, threads=1, batch_size=1, budget_s=0.2, warmup_s=0, clock=c.clock)
    assert lat.verdict == SAME
    assert lat.speedup == pytest.approx(1.0, abs=0.01)
    # the candidate's own percentiles do show the burst: that is what the spread columns are for
    assert lat.p99_us > 2 * lat.p50_us


def test_an_unsettled_comparison_stops_at_the_budget_and_says_so():
    flip = {"n": 0}

    def load(now):  # every other call costs double: window ratios keep jumping
        flip["n"] += 1
        return 1.0 + (flip["n"] // 7) % 2
    c = SharedClock(10_000, 10_000, load=load)
    lat = time_against(c.cand, c.base, threads=1, batch_size=1, budget_s=0.05, window_s=0.0002, warmup_s=0,
                       clock=c.clock)
    assert lat.windows >= 6
    assert c.now >= 0.05e9 or lat.stable


def test_time_against_on_real_functions():
    slow = lambda: sum(range(2000))  # noqa: E731
    fast = lambda: sum(range(50))  # noqa: E731
    lat = time_against(fast, slow, threads=1, batch_size=1, budget_s=0.2)
    assert lat.verdict == FASTER and lat.speedup > 5
    lat = time_against(slow, fast, threads=1, batch_size=1, budget_s=0.2)
    assert lat.verdict == SLOWER and lat.speedup < 0.2


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
