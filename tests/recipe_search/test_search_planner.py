"""The order of the search: defaults first, single-knob changes next (most promising method first),
then the per-layer fallback (groups, then top-k single layers by doubling and bisection), then the
other knob combinations; a fallback that cannot beat one already within budget is never proposed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from quantrack.core.budget import Budget
from quantrack.core.method_config import MethodConfig, NoConfig, knob
from quantrack.recipe_search.planner import Planner, Probe
from quantrack.recipe_search.recipe import FALLBACK, KNOBS, Recipe
from quantrack.recipe_search.space import group_candidates, knob_recipes, layer_groups, next_single_count
from quantrack.recipe_search.trial import TrialResult


@dataclass(frozen=True)
class Cfg(MethodConfig):
    SEARCH_SPACE: ClassVar[dict] = {"a": (1, 2, 3), "b": (False, True)}
    a: int = knob(1, "default")
    b: bool = knob(False, "default")

    def __post_init__(self):
        if self.a == 3 and self.b:
            from quantrack.errors import QuantrackError

            raise QuantrackError("refused")


def test_knob_recipes_nearest_first_and_refused_counted():
    recipes, refused = knob_recipes("m", Cfg)
    assert [r.config_dict() for r in recipes] == [{"a": 2}, {"a": 3}, {"b": True}, {"a": 2, "b": True}]
    assert refused == 1 and all(r.strategy == KNOBS for r in recipes)


def _result(recipe: Recipe, i: int, *, drop: float, within: bool, size: int = 100, status: str = "ok") -> TrialResult:
    return TrialResult(id=i, recipe=recipe.to_dict(), method=recipe.method, label=recipe.label(), status=status,
                       drop=drop, within_budget=within, file_bytes=size, float_layers=list(recipe.float_layers))


def _run(planner: Planner, outcome, tables=None, limit=40) -> list:
    order = []
    for i in range(limit):
        step = planner.next()
        if step is None:
            break
        if isinstance(step, Probe):
            order.append(step)
            planner.add_table(step.method, tables[step.method])
            continue
        order.append(step)
        planner.started(step)
        planner.finished(step, outcome(step, i))
    return order


def test_defaults_then_singles_by_promise_then_the_rest():
    budget = Budget(max_drop=0.01, prefer="size")
    planner = Planner(["qat-int8", "x", "y"], {"qat-int8": NoConfig, "x": Cfg, "y": Cfg}, budget)

    def outcome(r, i):  # y's defaults are within budget and small: the most promising
        return _result(r, i, drop=0.0 if r.method == "y" else 0.05, within=r.method == "y",
                       size=50 if r.method == "y" else 100)

    order = _run(planner, outcome)
    assert [(r.method, r.config_dict()) for r in order[:3]] == [("x", {}), ("y", {}), ("qat-int8", {})]  # QAT last
    singles = [(r.method, r.config_dict()) for r in order[3:9]]
    assert singles == [("y", {"a": 2}), ("y", {"a": 3}), ("y", {"b": True}),
                       ("x", {"a": 2}), ("x", {"a": 3}), ("x", {"b": True})]
    assert [(r.method, r.config_dict()) for r in order[9:]] == [("y", {"a": 2, "b": True}), ("x", {"a": 2, "b": True})]
    assert planner.next() is None  # exhausted


def test_an_unavailable_method_gets_no_variants():
    planner = Planner(["x"], {"x": Cfg}, Budget(max_drop=0.01))
    order = _run(planner, lambda r, i: _result(r, i, drop=0, within=False, status="unavailable"))
    assert len(order) == 1


def test_fallback_groups_then_single_layers_and_never_a_superset_of_a_pass():
    ranked = [f"enc.{i}.out" for i in range(4)] + [f"enc.{i}.in" for i in range(4)] + ["head"]
    planner = Planner(["dyn"], {"dyn": NoConfig}, Budget(max_drop=0.01), fallback_methods=["dyn"])

    def outcome(r, i):  # fits the budget once the 3 most sensitive layers are float
        k = len(r.float_layers)
        ok = set(ranked[:3]) <= set(r.float_layers)
        return _result(r, i, drop=0.0 if ok else 0.05 - 0.001 * k, within=ok, size=100 + 10 * k)

    order = _run(planner, outcome, {"dyn": ranked})
    assert order[0] == Recipe.of("dyn") and order[1] == Probe("dyn")
    fallbacks = [r for r in order if isinstance(r, Recipe) and r.float_layers]
    assert all(r.strategy == FALLBACK for r in fallbacks)
    # the first group (enc.*.out, 4 layers) fits; the larger group set is never tried
    assert list(fallbacks[0].float_layers) == ranked[:4]
    assert not any(set(ranked[:4]) < set(r.float_layers) for r in fallbacks)
    # that group set is the top 4 single layers too: bisection below it, 2 fails (so 1 is not tried), 3 fits
    assert [len(r.float_layers) for r in fallbacks[1:]] == [2, 3]
    assert planner.next() is None


def test_no_fallback_when_the_defaults_fit():
    planner = Planner(["dyn"], {"dyn": NoConfig}, Budget(max_drop=0.01), fallback_methods=["dyn"])
    assert len(_run(planner, lambda r, i: _result(r, i, drop=0.0, within=True), {"dyn": ["a", "b"]})) == 1


def test_single_counts_double_then_bisect():
    assert next_single_count(37, [], [], []) == 1
    assert next_single_count(37, [], [1, 2, 4, 8], []) == 16
    assert next_single_count(37, [16], [1, 2, 4, 8], []) == 12
    assert next_single_count(37, [16, 12], [1, 2, 4, 8, 10, 11], []) is None  # 12 is the smallest that fits
    assert next_single_count(37, [], [1, 2, 4, 8, 16, 32], []) == 36  # every layer but one, last
    assert next_single_count(37, [], [1, 2, 4, 8, 16, 32, 36], []) is None
    assert next_single_count(37, [], [], [1]) == 2  # one running: the next count starts meanwhile


def test_groups_are_layer_kinds_across_blocks():
    ranked = ["encoder.layer.0.output.dense", "pooler.dense", "encoder.layer.3.output.dense",
              "encoder.layer.1.attention.self.query"]
    assert layer_groups(ranked) == [["encoder.layer.0.output.dense", "encoder.layer.3.output.dense"], ["pooler.dense"],
                                    ["encoder.layer.1.attention.self.query"]]
    assert [len(r.float_layers) for r in group_candidates("m", ranked)] == [2, 3]
    assert group_candidates("m", ["a", "b"]) == []  # no coarser grouping than single layers


def test_no_fallback_of_a_method_whose_defaults_cannot_beat_the_best():
    budget = Budget(max_drop=0.01, prefer="size")
    planner = Planner(["small", "big"], {"small": NoConfig, "big": NoConfig}, budget, fallback_methods=["big"])

    def outcome(r, i):  # "small" fits at 50 B; "big" loses too much at 80 B: its fallbacks only grow from 80 B
        return _result(r, i, drop=0.0 if r.method == "small" else 0.05, within=r.method == "small",
                       size=50 if r.method == "small" else 80)

    order = _run(planner, outcome, {"big": ["a", "b", "c"]})
    assert [r.method for r in order] == ["small", "big"]  # no Probe, no fallback
    assert "fallback:big" in planner.skipped


@dataclass(frozen=True)
class Trains(MethodConfig):
    epochs: int = knob(3, "a few epochs of fine-tuning")


def test_a_method_with_an_epochs_knob_goes_last():
    planner = Planner(["ft", "x"], {"ft": Trains, "x": NoConfig}, Budget(max_drop=0.01))
    assert planner.methods == ["x", "ft"]
