"""The champion budget: one validated value, one within-budget rule, one conversion from points."""

import pytest

from quantrack.core.budget import Budget
from quantrack.errors import QuantrackError


def test_a_drop_of_exactly_the_budget_is_within_it():
    budget = Budget(0.01)
    assert budget.within(346 / 360 - 343 / 360)  # 1 point in floats is a hair above 0.01
    assert not budget.within(346 / 360 - 342 / 360)
    assert Budget(0.0).within(0.0) and not Budget(0.0).within(1e-9)


@pytest.mark.parametrize("max_drop, fragment", [
    (1, "accuracy is a fraction, so max_drop is too (0.01 = 1 point); for 1 points pass max_drop=0.01"),
    (150, "for 150 points pass max_drop=1.5"),
    (-0.01, "max_drop must be a number >= 0 (a fraction of accuracy: 0.01 = 1 point)"),
    (float("nan"), "max_drop must be a number >= 0"),
    (True, "max_drop must be a number >= 0"),
])
def test_a_value_that_cannot_be_a_drop_of_accuracy_names_the_unit(max_drop, fragment):
    with pytest.raises(QuantrackError) as e:
        Budget(max_drop)
    assert fragment in str(e.value)


def test_a_metric_budget_is_in_the_metrics_own_units():
    assert Budget(2.5, score_name="bleu").max_drop == 2.5  # no fraction rule for a user's metric
    with pytest.raises(QuantrackError, match=r"in cosine's own units"):
        Budget(-1, score_name="cosine")
    assert Budget(0.01).with_score("cosine").text() == "0.01 of cosine"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"confidence": 1.0}, "confidence must be between 0.5 and 1"),
    ({"confidence": 0.3}, "confidence must be between 0.5 and 1"),
    ({"prefer": "speed"}, "prefer must be one of size, latency"),
    ({"score_name": ""}, "score_name must be a non-empty string"),
])
def test_every_field_is_checked_where_it_enters(kwargs, fragment):
    with pytest.raises(QuantrackError, match=fragment):
        Budget(0.01, **kwargs)


def test_points_convert_once_and_the_budget_reads_back():
    budget = Budget.from_points(2, prefer="latency")
    assert budget == Budget(0.02, confidence=0.95, prefer="latency")
    assert budget.points == 2 and budget.text() == "2 points" and Budget(0.01).text() == "1 point"
    assert Budget.from_dict(budget.to_dict()) == budget
    assert budget.judged_with(None).confidence is None
    for points in (-1, 100, 150, float("inf")):
        with pytest.raises(QuantrackError, match="--max-accuracy-drop must be between 0 and 100 points"):
            Budget.from_points(points)
