"""``quantrack.search``: accuracy-aware recipe search (see api.py for the call).

One job per module: recipe.py (what a trial tries), space.py (knob combinations, fallback
candidates), strategies.py (which methods, configs, fallbacks), planner.py (the order),
split.py (selection vs held-out rows), trial.py (one trial), probe.py (per-layer sensitivity),
executor.py (local or Ray), cache.py + digest.py (resuming), engine.py (the loop and its stops),
select.py (finalists, held-out judging, Pareto), track.py (MLflow), api.py (the public call).

The public call is ``quantrack.search`` (api.py); the package is named ``recipe_search`` so that
importing it never hides that function.
"""
