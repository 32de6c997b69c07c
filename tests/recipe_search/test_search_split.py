"""Selection and held-out rows: disjoint, together every row, seeded, stratified by label."""

from __future__ import annotations

import numpy as np
import pytest

from quantrack.errors import QuantrackError
from quantrack.recipe_search.split import split_rows


@pytest.mark.parametrize("rows,held_out", [(2, 0.5), (7, 0.3), (100, 0.5), (1001, 0.2)])
def test_disjoint_and_complete(rows, held_out):
    labels = np.random.default_rng(1).integers(0, 4, size=rows)
    for given in (labels, None):
        s = split_rows(rows, given, held_out=held_out, seed=3)
        assert len(s.selection) + len(s.held_out) == rows
        assert not set(s.selection.tolist()) & set(s.held_out.tolist())
        assert sorted(s.selection.tolist() + s.held_out.tolist()) == list(range(rows))
        assert len(s.selection) >= 1 and len(s.held_out) >= 1
        assert s.to_dict() == {"selection_rows": len(s.selection), "held_out_rows": len(s.held_out)}


def test_stratified_each_class_in_proportion():
    labels = np.array([0] * 500 + [1] * 90 + [2] * 10)
    s = split_rows(len(labels), labels, held_out=0.3, seed=0)
    for c, n in ((0, 500), (1, 90), (2, 10)):
        assert (labels[s.held_out] == c).sum() == round(0.3 * n)
        assert (labels[s.selection] == c).sum() == n - round(0.3 * n)


def test_seeded():
    labels = np.random.default_rng(0).integers(0, 3, size=300)
    a, b = split_rows(300, labels, seed=5), split_rows(300, labels, seed=5)
    c = split_rows(300, labels, seed=6)
    assert np.array_equal(a.held_out, b.held_out)
    assert not np.array_equal(a.held_out, c.held_out)


def test_classes_of_one_row_still_give_two_sides():
    s = split_rows(3, np.array([0, 1, 2]), seed=0)
    assert len(s.selection) + len(s.held_out) == 3 and len(s.held_out) >= 1 and len(s.selection) >= 1


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, True])
def test_refuses_a_share_that_is_not_a_fraction(bad):
    with pytest.raises(QuantrackError, match="held_out"):
        split_rows(10, None, held_out=bad)


def test_refuses_one_row():
    with pytest.raises(QuantrackError, match="at least 2"):
        split_rows(1, None)
