"""The Pareto front, checked against its definition."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantrack.sweep.pareto import MAX, MIN, dominates, pareto_front

SENSES = (MAX, MIN, MIN)  # accuracy, latency, size


def test_a_small_known_front():
    points = [(0.95, 10.0, 100), (0.95, 12.0, 100), (0.90, 5.0, 100), (0.97, 20.0, 300), (0.80, 30.0, 400)]
    assert pareto_front(points, SENSES) == [0, 2, 3]


def test_equal_points_are_all_kept():
    assert pareto_front([(1, 1, 1), (1, 1, 1)], SENSES) == [0, 1]


def test_bad_sense_is_refused():
    with pytest.raises(ValueError):
        pareto_front([(1,)], ["up"])


points = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=25)


@settings(max_examples=200, deadline=None)
@given(points)
def test_front_is_exactly_the_non_dominated_points(pts):
    front = set(pareto_front(pts, SENSES))
    assert front  # a finite set always has a non-dominated point
    for i, p in enumerate(pts):
        dominated = any(dominates(q, p, SENSES) for q in pts)
        assert (i in front) == (not dominated)
    for i in front:  # no front point dominates another
        assert not any(dominates(pts[j], pts[i], SENSES) for j in front)
