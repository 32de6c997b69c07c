"""time_calls: settles only with enough samples and time, and never overruns its budget."""

from __future__ import annotations

import gc
import itertools
import time

from quantrack.measure import time_calls


def _fake_clock(step_ns: int):
    """Each reading advances by step_ns: every timed call lasts exactly step_ns."""
    counter = itertools.count(0, step_ns)
    return lambda: next(counter)


def test_constant_calls_settle_once_min_samples_and_min_time_are_met():
    lat = time_calls(lambda: None, threads=1, batch_size=1, budget_s=5, warmup_s=0, min_samples=50,
                     min_time_s=0.05, clock=_fake_clock(1_000_000))  # 1 ms a call: 50 calls = 0.05 s
    assert lat.stable and lat.samples == 50
    assert lat.p50_us == 1000.0


def test_a_microsecond_call_is_not_settled_by_a_handful_of_samples():
    # 1 us calls: 0.05 s of timed calls needs 50,000 of them, far past min_samples.
    lat = time_calls(lambda: None, threads=1, batch_size=1, budget_s=5, warmup_s=0, min_samples=50,
                     min_time_s=0.05, clock=_fake_clock(1_000))
    assert lat.stable and lat.samples >= 50_000


def test_a_call_slower_than_the_budget_stops_at_the_budget():
    start = time.perf_counter()
    lat = time_calls(lambda: time.sleep(0.02), threads=1, batch_size=1, budget_s=0.1, warmup_s=0)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5  # 50 samples would take 1 s
    assert 5 <= lat.samples < 50
    assert not lat.stable


def test_garbage_collection_is_off_while_timing_and_restored():
    seen = []
    assert gc.isenabled()
    time_calls(lambda: seen.append(gc.isenabled()), threads=1, batch_size=1, budget_s=0.05, warmup_s=0,
               min_samples=5, min_time_s=0)
    assert gc.isenabled()
    assert seen[-1] is False
