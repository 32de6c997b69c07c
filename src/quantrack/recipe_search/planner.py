"""Which recipe to try next, given what the trials so far found.

Order (cheap, likely-good first):

1. every method's defaults (a knowledgeable engineer's recipe; methods that train again last);
2. single-knob changes, methods in order of promise (within budget and best on the objective
   first, then by how little they lost);
3. per-layer float fallback for the methods whose defaults lost too much and that have a layer
   table: the per-layer sensitivity on the selection rows, then whole groups of layers of one kind
   (NNCF-style), then the top-k single layers (k = 1, 2, 4, ..., then bisection to the smallest k
   that fits);
4. the remaining knob combinations, nearest the defaults first.

A fallback recipe that keeps in float a superset of the layers of one already within budget is
never tried: it cannot be smaller, nor faster. For ``objective="size"``, nor is any fallback of a
method whose plain defaults are already no smaller than a recipe within budget (float layers only add
bytes; they can make a variant faster, so latency gets no such rule). When nothing is left, the
search is exhausted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quantrack.core.budget import Budget
from quantrack.recipe_search.recipe import FALLBACK, KNOBS, Recipe
from quantrack.recipe_search.space import group_candidates, knob_recipes, next_single_count
from quantrack.recipe_search.trial import OK, UNAVAILABLE, TrialResult

# Methods that train the model again (QAT): tens of seconds where the others take one, so last.
# Known by name, or by a config with an ``epochs`` knob (pt2e-qat-int8 on the issue-20 branch has one).
RETRAINING = ("qat-int8",)


def retrains(method: str, config_cls) -> bool:
    import dataclasses

    return method in RETRAINING or (dataclasses.is_dataclass(config_cls)
                                    and any(f.name == "epochs" for f in dataclasses.fields(config_cls)))


@dataclass(frozen=True)
class Probe:
    """Ask the driver for ``method``'s per-layer sensitivity table on the selection rows."""

    method: str


class Planner:
    def __init__(self, methods: Sequence[str], configs: dict, budget: Budget, fallback_methods: Sequence[str] = ()) -> None:
        self.methods = sorted(methods, key=lambda m: (retrains(m, configs[m]), list(methods).index(m)))
        self.budget = budget
        self.fallback_methods = [m for m in self.methods if m in set(fallback_methods)]
        self.defaults = {m: Recipe.of(m) for m in self.methods}
        self.knobs: dict[str, list[Recipe]] = {}
        self.refused: dict[str, int] = {}
        for m in self.methods:
            self.knobs[m], self.refused[m] = knob_recipes(m, configs[m])
        self.results: dict[str, TrialResult] = {}  # recipe key -> result
        self.busy: set[str] = set()
        self.tables: dict[str, list[str]] = {}  # method -> layers ranked most sensitive first
        self.skipped: dict[str, dict] = {}  # recipe key -> why it was not tried (it could not beat the best)

    # -- bookkeeping -------------------------------------------------------
    def started(self, recipe: Recipe) -> None:
        self.busy.add(recipe.key())

    def finished(self, recipe: Recipe, result: TrialResult) -> None:
        self.busy.discard(recipe.key())
        self.results[recipe.key()] = result

    def dropped(self, recipe: Recipe) -> None:
        """A trial that was interrupted: neither done nor running."""
        self.busy.discard(recipe.key())

    def add_table(self, method: str, ranked: Sequence[str]) -> None:
        self.tables[method] = list(ranked)

    def _seen(self, r: Recipe) -> bool:
        return r.key() in self.results or r.key() in self.busy

    # -- the order -----------------------------------------------------------
    def next(self) -> Recipe | Probe | None:
        """The next recipe (or a sensitivity probe); None: nothing to start now (the driver waits for
        running trials, or the search is exhausted when none run)."""
        for r in self.defaults.values():
            if not self._seen(r):
                return r
        if any(r.key() in self.busy for r in self.defaults.values()):
            return None  # the order below depends on every default's result
        ranked = self._by_promise()
        for m in ranked:
            for r in self.knobs[m]:
                if len(r.config) == 1 and not self._seen(r):
                    return r
        for m in [m for m in ranked if m in self.fallback_methods]:
            step = self._fallback(m)
            if step is not None:
                return step
        for m in ranked:
            for r in self.knobs[m]:
                if not self._seen(r):
                    return r
        return None

    def _best(self) -> TrialResult | None:
        return _best_of(self.results.values(), self.budget.prefer)

    def _default_result(self, m: str) -> TrialResult | None:
        return self.results.get(self.defaults[m].key())

    def _by_promise(self) -> list[str]:
        def key(m: str):
            r = self._default_result(m)
            if r is None or r.status == UNAVAILABLE:
                return (3, 0.0)
            if r.status != OK:
                return (2, 0.0)
            if r.within_budget:
                return (0, objective_value(r, self.budget.prefer))
            return (1, r.drop if r.drop is not None else float("inf"))
        order = sorted(self.methods, key=lambda m: (*key(m), self.methods.index(m)))
        # A method that cannot run here (a missing package, a model kind it does not take) gets no variants.
        return [m for m in order if (r := self._default_result(m)) is None or r.status != UNAVAILABLE]

    def _fallback(self, m: str) -> Recipe | Probe | None:
        base = self._default_result(m)
        if base is None or base.status != OK or base.within_budget:
            return None  # defaults within budget: keeping layers in float can only grow and slow it
        best = self._best()
        if self.budget.prefer == "size" and best is not None and base.file_bytes is not None \
                and best.file_bytes is not None and base.file_bytes >= best.file_bytes:
            # Keeping layers in float only adds bytes to the method's plain defaults, which are already no
            # smaller than a recipe within budget. (Not so for latency: a float Conv can run faster than
            # ONNX Runtime's ConvInteger, measured on the MNIST CNN.)
            self.skipped.setdefault(f"fallback:{m}", {"recipe": {"method": m, "strategy": FALLBACK},
                                                      "why": f"{m}'s plain defaults are no smaller than {best.label}, "
                                                             "already within budget; float layers only add bytes"})
            return None
        if m not in self.tables:
            return Probe(m)
        ranked = self.tables[m]
        if len(ranked) < 2:
            return None
        done = [r for r in self.results.values() if r.method == m and r.float_layers]
        passed = [set(r.float_layers) for r in done if r.within_budget]
        for r in group_candidates(m, ranked):
            if any(p <= set(r.float_layers) for p in passed):
                break  # this group set and the larger ones cannot beat a fallback already within budget
            if not self._seen(r):
                return r
            if self.results.get(r.key()) is not None and self.results[r.key()].within_budget:
                break
        singles = {len(r.float_layers): r for r in done if r.float_layers == ranked[:len(r.float_layers)]}
        busy = [k for k in range(1, len(ranked)) if Recipe.of(m, float_layers=ranked[:k], strategy=FALLBACK).key()
                in self.busy]
        while True:
            k = next_single_count(len(ranked), [k for k, r in singles.items() if r.within_budget],
                                  [k for k, r in singles.items() if not r.within_budget], busy)
            if k is None:
                return None
            r = Recipe.of(m, float_layers=ranked[:k], strategy=FALLBACK)
            if any(p <= set(r.float_layers) for p in passed):
                # Already beaten by a group set within budget: count it as passed, look further down.
                self.skipped[r.key()] = {"recipe": r.to_dict(), "why": "keeps in float a superset of the layers "
                                                                       "of a fallback already within budget"}
                singles[k] = TrialResult(id=-1, recipe=r.to_dict(), method=m, label=r.label(), within_budget=True)
                continue
            return r


def _best_of(results, prefer: str) -> TrialResult | None:
    within = [r for r in results if r.status == OK and r.within_budget]
    return min(within, key=lambda r: (objective_value(r, prefer), r.id), default=None)


def objective_value(r: TrialResult, prefer: str) -> float:
    """Smaller is better: the file's bytes, or minus the batch-1 speed-up against fp32."""
    if prefer == "size":
        return float(r.file_bytes) if r.file_bytes is not None else float("inf")
    return -(r.speedup or 0.0)


__all__ = ["KNOBS", "Planner", "Probe", "RETRAINING", "objective_value"]
