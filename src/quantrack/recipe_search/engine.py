"""The search loop: ask the planner, reuse the cache, run trials, stop on time, trials or exhaustion.

Stops (``stopped_because``):

- ``time budget``: no trial starts once the time spent plus the estimated cost of judging the
  finalists reaches ``time_budget_s``; running trials finish, so the search ends within the budget
  plus one trial;
- ``trial budget``: ``max_trials`` recipes tried (cached ones count: a resumed search tries the same set);
- ``exhausted``: every recipe tried, or not tried because it could not beat the best;
- ``interrupted``: Ctrl-C (KeyboardInterrupt); the trial it hit is dropped, not cached.

Every finished trial goes to the cache at once (a killed search loses at most the running ones)
and to ``on_trial`` (the MLflow child run).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quantrack.core.budget import Budget
from quantrack.recipe_search.cache import TrialCache
from quantrack.recipe_search.planner import Planner, Probe, objective_value
from quantrack.recipe_search.recipe import Recipe
from quantrack.recipe_search.trial import OK, Setup, TrialResult

TIME, TRIALS, EXHAUSTED, INTERRUPTED = "time budget", "trial budget", "exhausted", "interrupted"


@dataclass
class Outcome:
    trials: list[TrialResult] = field(default_factory=list)
    live: dict[int, Any] = field(default_factory=dict)  # trial id -> variant kept for the held-out judging
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    stopped_because: str = EXHAUSTED
    seconds: float = 0.0


def within(budget: Budget, result: TrialResult) -> bool:
    """The one rule (Budget.within) on the selection rows: the upper end of the paired interval when
    the search judges by intervals and the score has per-row values, else the point estimate."""
    if result.status != OK or result.drop is None:
        return False
    if budget.confidence is not None and result.drop_ci is not None:
        return budget.within(result.drop_ci[1])
    return budget.within(result.drop)


def run_search(setup: Setup, planner: Planner, executor, budget: Budget, *, time_budget_s: float,
               max_trials: int, cache: TrialCache | None, finalists: int, say: Callable[[str], None],
               on_trial: Callable[[TrialResult], None] | None = None, started: float | None = None) -> Outcome:
    from quantrack.recipe_search.probe import layer_sensitivity

    start = started if started is not None else time.perf_counter()
    deadline = start + time_budget_s
    out = Outcome()
    ids: dict[str, int] = {}

    def record(recipe: Recipe, result: TrialResult, variant: Any, cached: bool) -> None:
        result.id = ids[recipe.key()]
        result.cached = cached
        result.within_budget = within(budget, result)
        planner.finished(recipe, result)
        out.trials.append(result)
        if not cached and cache is not None:
            cache.put(recipe.key(), {**result.to_dict(), "cached": False})
        if variant is not None and result.within_budget:
            out.live[result.id] = variant
            _keep_best(out, budget.prefer, finalists)
        what = (f"{budget.score_name} {result.score:.4f}, drop {result.drop:+.4f}"
                + (", within budget" if result.within_budget else ", over budget")) if result.status == OK \
            else f"{result.status}: {result.reason}"
        say(f"trial {result.id} {result.label}{' (cached)' if cached else ''}: {what}")
        if on_trial is not None:
            on_trial(result)

    def reserve() -> float:
        """What judging the finalists on the held-out rows will cost: rebuilding those whose variant
        is not in memory (cached, or built on a Ray worker), about one quantization each."""
        best = sorted((t for t in out.trials if t.within_budget), key=lambda t: (objective_value(t, budget.prefer), t.id))
        return sum(t.seconds_to_quantize or t.seconds for t in best[:finalists] if t.id not in out.live)

    try:
        while True:
            if len(ids) >= max_trials:
                out.stopped_because = TRIALS
                break
            if time.perf_counter() + reserve() >= deadline:
                out.stopped_because = TIME
                break
            step = planner.next()
            if step is None:
                if executor.running:
                    for recipe, result, variant in executor.wait():
                        record(recipe, result, variant, cached=False)
                    continue
                out.stopped_because = EXHAUSTED
                break
            if isinstance(step, Probe):
                out.tables[step.method] = _table(setup, step.method, cache, deadline, say, layer_sensitivity)
                planner.add_table(step.method, out.tables[step.method]["ranked"])
                continue
            ids[step.key()] = len(ids)
            hit = cache.get(step.key()) if cache is not None else None
            if hit is not None:
                try:
                    result = TrialResult.from_dict(hit)
                except (TypeError, ValueError) as e:
                    say(f"cache entry for {step.label()} ignored: {e}")
                else:
                    record(step, result, None, cached=True)
                    continue
            planner.started(step)
            executor.submit(step, ids[step.key()], keep=True)
            if executor.running == 0 or executor.running >= executor.capacity:  # local: done already; Ray: a slot
                for recipe, result, variant in executor.wait():
                    record(recipe, result, variant, cached=False)
        while executor.running:  # the budget is spent: the trials already running finish
            for recipe, result, variant in executor.wait():
                record(recipe, result, variant, cached=False)
    except KeyboardInterrupt:
        out.stopped_because = INTERRUPTED
        for recipe in executor.cancel():
            planner.dropped(recipe)
        say("interrupted: no new trial starts; the best so far is judged and written")
    out.seconds = round(time.perf_counter() - start, 3)
    return out


def _keep_best(out: Outcome, prefer: str, n: int) -> None:
    """Only the ``n`` best live variants within budget stay in memory (a transformer's is ~90 MB)."""
    by_id = {t.id: t for t in out.trials}
    ranked = sorted(out.live, key=lambda i: (objective_value(by_id[i], prefer), i))
    for i in ranked[n:]:
        del out.live[i]


def _table(setup: Setup, method: str, cache: TrialCache | None, deadline: float, say, measure) -> dict[str, Any]:
    import hashlib

    key = hashlib.sha256(f"sensitivity\0{method}".encode()).hexdigest()
    hit = cache.get(key) if cache is not None else None
    if hit is not None and isinstance(hit.get("ranked"), list) and hit.get("complete"):
        say(f"per-layer sensitivity of {method} (cached): {len(hit['ranked'])} layers")
        return {**hit, "cached": True}
    say(f"measuring the per-layer sensitivity of {method} on the selection rows")
    table = measure(setup, method, deadline)
    if cache is not None and table["complete"]:
        cache.put(key, table)
    say(f"per-layer sensitivity of {method}: {len(table['rows'])} of {len(table['ranked'])} layers in "
        f"{table['seconds']:.1f} s")
    return {**table, "cached": False}
