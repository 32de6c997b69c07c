"""What a sweep explores: value lists, the grid, random draws, the [sweep] table."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantrack.errors import QuantrackError
from quantrack.sweep.space import Space, build_space, grid, random_samples, split_sweep_table, split_values


def test_commas_and_repetition_both_give_values():
    assert split_values("lr", ["0.01,0.05", "0.1"]) == ("0.01", "0.05", "0.1")
    assert split_values("seed", "0, 1,2") == ("0", "1", "2")
    assert split_values("seed", [0, 1, 1]) == ("0", "1")  # duplicates once, first kept


def test_hidden_and_methods_keep_commas_inside_a_value():
    assert split_values("hidden", ["64,64", "256, 256"]) == ("64,64", "256,256")
    assert split_values("hidden", [[64, 64], [256]]) == ("64,64", "256")  # TOML lists of lists
    assert split_values("methods", ["dynamic-int8,fp16", "onnx-fp32"]) == ("dynamic-int8,fp16", "onnx-fp32")


def test_empty_value_is_refused():
    with pytest.raises(QuantrackError, match="--lr has an empty value"):
        split_values("lr", "0.01,,0.05")


def test_every_value_is_validated_with_the_options_own_message():
    with pytest.raises(QuantrackError, match="--lr must be a positive number"):
        build_space({}, {"lr": "0.01,-1"})
    with pytest.raises(QuantrackError, match="unknown method 'nope'"):
        build_space({}, {"methods": ["dynamic-int8", "nope"]})
    with pytest.raises(QuantrackError, match="--epochs has an invalid value"):
        build_space({}, {"epochs": "5,x"})


def test_grid_is_the_product_in_stable_order():
    space = build_space({}, {"lr": "0.01,0.05", "seed": "0,1,2"})
    combos = grid(space)
    assert len(combos) == space.size == 6
    assert combos[0] == {"lr": "0.01", "seed": "0"} and combos[1] == {"lr": "0.01", "seed": "1"}
    assert len({tuple(c.items()) for c in combos}) == 6
    assert grid(Space()) == [{}]  # no varying option: one trial


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=1, max_size=4), n=st.integers(1, 80), seed=st.integers(0, 10))
def test_random_samples_are_distinct_members_of_the_grid(sizes, n, seed):
    space = Space({f"o{i}": tuple(f"v{j}" for j in range(k)) for i, k in enumerate(sizes)})
    full = {tuple(c.items()) for c in grid(space)}
    picks = random_samples(space, n, seed)
    keys = [tuple(c.items()) for c in picks]
    assert len(keys) == min(n, math.prod(sizes)) == len(set(keys))
    assert set(keys) <= full
    assert random_samples(space, n, seed) == picks  # reproducible


def test_random_samples_of_a_huge_grid_cost_no_memory():
    space = Space({f"o{i}": tuple(str(j) for j in range(10)) for i in range(9)})  # 10^9 points
    assert len(random_samples(space, 5)) == 5


def test_sweep_table_splits_options_and_settings():
    options, settings_ = split_sweep_table({"lr": [0.01, 0.05], "max-concurrent": 2, "search": "optuna",
                                            "dataset": "iris"}, "q.toml")
    assert options == {"lr": [0.01, 0.05], "dataset": "iris"}
    assert settings_ == {"max_concurrent": 2, "search": "optuna"}
    with pytest.raises(QuantrackError, match="unknown key 'lrr' in \\[sweep\\]"):
        split_sweep_table({"lrr": 1}, "q.toml")
    with pytest.raises(QuantrackError, match="dataset takes one value"):
        split_sweep_table({"dataset": ["iris", "wine"]}, "q.toml")
