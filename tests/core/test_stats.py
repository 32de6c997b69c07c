"""Intervals and paired tests, checked against scipy, a textbook's worked example and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest, quantile_test, ttest_rel

from quantrack.core.stats import (ACCURACY_TEST, PairedStats, mcnemar_exact, median_ci, newcombe_paired,
                                      paired_stats, wilson)


def rows(both: int, only_base: int, only_var: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    base = np.array([True] * both + [True] * only_base + [False] * only_var + [False] * neither)
    var = np.array([True] * both + [False] * only_base + [True] * only_var + [False] * neither)
    return base, var


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5000), data=st.data(), confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_scipy(n, data, confidence):
    k = data.draw(st.integers(0, n))
    ref = binomtest(k, n).proportion_ci(confidence, method="wilson")
    assert wilson(k, n, confidence) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_newcombe_reproduces_the_textbook_example():
    # Fagerland, Lydersen & Laake, "Statistical Analysis of Contingency Tables", ch. 8 (Cavo et al. 2012):
    # the table [[59, 6], [16, 80]] gives -0.0621 (95% CI -0.1186 to -0.0046) by Newcombe's square-and-add.
    lo, hi = newcombe_paired(59, 6, 16, 80, 0.95)
    assert (round(lo, 4), round(hi, 4)) == (-0.1186, -0.0046)


def test_mcnemar_exact_matches_the_textbook_and_a_hand_computed_sum():
    assert round(mcnemar_exact(6, 16), 6) == 0.052479  # the same book's exact conditional test on Cavo et al.
    # 1 vs 6 discordant rows: 2 * P(X <= 1), X ~ Bin(7, 1/2) = 2 * (1 + 7) / 128
    assert mcnemar_exact(1, 6) == pytest.approx(16 / 128)
    assert mcnemar_exact(3, 0) == pytest.approx(2 / 8)
    assert mcnemar_exact(0, 0) == 1.0


def test_accuracy_stats_of_a_variant_three_rows_worse():
    base, var = rows(340, 4, 1, 15)  # fp32 344/360, the variant 341/360: a drop of 3 rows
    s = paired_stats(base, var)
    assert s.rows == 360 and s.test == ACCURACY_TEST and s.discordant == (4, 1)
    assert s.score == pytest.approx(341 / 360)
    assert s.drop == pytest.approx(3 / 360)
    assert s.drop_ci == pytest.approx(newcombe_paired(340, 4, 1, 15))
    assert s.drop_ci[0] < 0 < s.drop < s.drop_ci[1]  # 3 rows of 360 cannot be told from no difference
    assert s.p_value == pytest.approx(2 * (1 + 5) / 32)  # 1 vs 4 discordant: 2 * P(X <= 1), X ~ Bin(5, 1/2)
    assert s.score_ci == pytest.approx(binomtest(341, 360).proportion_ci(0.95, "wilson")[:2])


def test_baseline_alone_has_an_interval_but_no_drop():
    base, _ = rows(340, 4, 1, 15)
    s = paired_stats(base)
    assert s.drop is None and s.drop_ci is None and s.p_value is None
    assert s.score == pytest.approx(344 / 360)


@settings(max_examples=100, deadline=None)
@given(cells=st.tuples(*[st.integers(0, 60)] * 4).filter(lambda c: sum(c) > 0),
       confidence=st.sampled_from([0.9, 0.95, 0.99]))
def test_drop_interval_holds_its_estimate_and_mirrors_when_swapped(cells, confidence):
    both, ob, ov, neither = cells
    base, var = rows(*cells)
    s = paired_stats(base, var, confidence=confidence)
    lo, hi = s.drop_ci
    assert -1 <= lo <= s.drop <= hi <= 1
    swapped = paired_stats(var, base, confidence=confidence)
    assert swapped.drop_ci == pytest.approx((-hi, -lo), abs=1e-12)
    assert swapped.p_value == pytest.approx(s.p_value)


def test_newcombe_interval_covers_the_true_drop_about_as_often_as_it_says():
    # Coverage by simulation, in the regime that matters here: few discordant rows on a few hundred.
    rng = np.random.default_rng(1)
    probs = np.array([0.93, 0.02, 0.005, 0.045])  # both, only fp32, only the variant, neither
    true = probs[1] - probs[2]
    hits = 0
    trials = 2000
    for counts in rng.multinomial(360, probs, size=trials):
        lo, hi = newcombe_paired(*counts)
        hits += lo <= true <= hi
    assert 0.93 <= hits / trials <= 0.99


def test_bootstrap_agrees_with_the_paired_t_interval_on_normal_scores():
    rng = np.random.default_rng(0)
    base = rng.normal(0.8, 0.1, 400)
    var = base - 0.01 + rng.normal(0, 0.03, 400)
    s = paired_stats(base, var)
    t = ttest_rel(base, var).confidence_interval(0.95)
    assert s.drop == pytest.approx(np.mean(base - var))
    assert s.drop_ci == pytest.approx((t.low, t.high), abs=0.0015)  # t half-width here ~0.003
    assert s.p_value < 0.001 and s.test.startswith("paired bootstrap")
    again = paired_stats(base, var)
    assert again == s  # seeded: the same rows give the same figures


def test_bootstrap_of_identical_scores_is_no_difference():
    x = np.linspace(0, 1, 50)
    s = paired_stats(x, x.copy())
    assert s.drop == 0 and s.drop_ci == (0.0, 0.0) and s.p_value == 1.0


def test_rows_to_settle_is_the_first_row_count_that_settles():
    base, var = rows(345, 0, 0, 15)  # identical predictions on 360 rows
    s = paired_stats(base, var)
    assert s.drop == 0 and s.drop_ci[1] > 0.01  # 360 rows cannot exclude a 1-point drop
    n = s.rows_to_settle(0.01)
    shares = np.array([345, 0, 0, 15]) / 360
    assert newcombe_paired(*(shares * n))[1] <= 0.01 < newcombe_paired(*(shares * (n - 1)))[1]
    assert s.rows_to_settle(0.05) is None  # already settled
    over = paired_stats(*rows(330, 15, 0, 15))
    assert over.rows_to_settle(0.01) is None  # the point estimate itself is over budget


@settings(max_examples=60, deadline=None)
@given(cells=st.tuples(st.integers(50, 400), st.integers(0, 3), st.integers(0, 3), st.integers(0, 40)),
       budget=st.sampled_from([0.005, 0.01, 0.02]))
def test_rows_to_settle_is_the_smallest_count_at_the_same_rates(cells, budget):
    s = paired_stats(*rows(*cells))
    need = s.rows_to_settle(budget)
    if need is None:  # already settled, or over budget on the point estimate
        assert s.drop_ci[1] <= budget or s.drop >= budget
        return
    assert need > s.rows
    shares = np.array(cells) / sum(cells)
    assert newcombe_paired(*(shares * need))[1] <= budget < newcombe_paired(*(shares * (need - 1)))[1]


def test_rows_to_settle_for_a_bootstrapped_score_scales_as_one_over_root_n():
    s = PairedStats(100, 0.95, 0.8, (0.7, 0.9), drop=0.0, drop_ci=(-0.02, 0.02), p_value=1.0, test="bootstrap")
    assert s.rows_to_settle(0.01) == 400


@pytest.mark.parametrize("n", [1, 5, 6, 10, 17, 40, 101])
def test_median_interval_matches_scipy(n):
    x = np.random.default_rng(n).lognormal(size=n)
    lo, hi, coverage = median_ci(x, 0.95)
    if n >= 6:
        ref = quantile_test(x, q=float(np.median(x)), p=0.5).confidence_interval(0.95)
        assert (lo, hi) == (ref.low, ref.high)
        assert coverage >= 0.95
    else:  # too few for 95 %: the whole range, and the smaller coverage it has
        assert (lo, hi) == (x.min(), x.max())
        assert coverage == pytest.approx(1 - 2 * 0.5 ** n)


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        paired_stats(np.array([True]), np.array([True, False]))
    with pytest.raises(ValueError):
        paired_stats(np.array([True]), confidence=1.0)
    with pytest.raises(ValueError):
        paired_stats(np.array([0.5, np.nan]), np.array([0.5, 0.5]))


def test_to_dict_round_trips():
    s = paired_stats(*rows(10, 2, 1, 3))
    assert PairedStats.from_dict(s.to_dict()) == s
    assert math.isfinite(s.to_dict()["drop_ci"][1])
