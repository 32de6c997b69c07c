"""time_calls' min_time_s: a median of microsecond calls settles only on enough timed time."""

from __future__ import annotations

import gc
import itertools

from quantrack.evaluate.timing import time_calls


def _fake_clock(step_ns: int):
    """Each reading advances by step_ns: every timed call lasts exactly step_ns."""
    counter = itertools.count(0, step_ns)
    return lambda: next(counter)


def test_without_min_time_thirty_steady_samples_settle():
    lat = time_calls(lambda: None, threads=1, batch_size=1, budget_s=5, warmup_s=0, min_samples=30,
                     clock=_fake_clock(1_000))
    assert lat.stable and lat.samples == 30


def test_min_time_keeps_sampling_microsecond_calls_until_enough_time_is_timed():
    # The fake clock ticks once per reading, so a sample is one tick (1 us) and the loop's
    # own readings count too; 0.01 s of samples needs at least 10,000 of them.
    lat = time_calls(lambda: None, threads=1, batch_size=1, budget_s=5, warmup_s=0, min_samples=30,
                     min_time_s=0.01, clock=_fake_clock(1_000))
    assert lat.stable and lat.samples >= 10_000


def test_min_time_never_outlasts_the_budget():
    lat = time_calls(lambda: None, threads=1, batch_size=1, budget_s=0.002, warmup_s=0, min_samples=30,
                     min_time_s=10.0, clock=_fake_clock(1_000))  # min_time capped at the budget
    assert lat.samples < 10_000


def test_garbage_collection_is_off_while_timing_and_restored():
    seen = []
    assert gc.isenabled()
    time_calls(lambda: seen.append(gc.isenabled()), threads=1, batch_size=1, budget_s=0.05, warmup_s=0,
               min_samples=5)
    assert gc.isenabled()
    assert seen[-1] is False
