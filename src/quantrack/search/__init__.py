"""``quantrack.search``: accuracy-aware recipe search (see api.py for the call).

One job per module: recipe.py (what a trial tries), space.py (knob combinations, fallback
candidates), strategies.py (which methods, configs, fallbacks), planner.py (the order),
split.py (selection vs held-out rows), trial.py (one trial), probe.py (per-layer sensitivity),
executor.py (local or Ray), cache.py + digest.py (resuming), engine.py (the loop and its stops),
select.py (finalists, held-out judging, Pareto), track.py (MLflow), api.py (the public call).

The package is callable, so ``quantrack.search(...)`` is the search whether or not this package
has been imported (importing it would otherwise put the module where the function is expected).
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any):
        from quantrack.search.api import search

        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
