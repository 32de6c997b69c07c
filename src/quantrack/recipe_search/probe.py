"""The per-layer sensitivity the fallback strategy ranks layers by, measured on the selection rows only.

Each layer quantized alone (``Layers.only``) and scored against fp32: one evaluation per layer,
as ``quantrack.sensitivity`` does, but stopping at the search's deadline (the layers measured so
far are ranked; the rest follow in the model's order) and never touching the held-out rows.
"""

from __future__ import annotations

import time
from typing import Any

from quantrack.recipe_search.trial import Setup


def layer_sensitivity(setup: Setup, method: str, deadline: float | None = None) -> dict[str, Any]:
    """{"method", "ranked": [layer, ...] most sensitive first, "rows": [{"layer", "params", "drop"}],
    "seconds", "complete"}."""
    from quantrack.methods.base import quiet_warnings

    started = time.perf_counter()
    base, scorer, _ = setup.fp32()
    with quiet_warnings():
        layers = setup.layers(method)
        rows = []
        for name in layers.names:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            rows.append({"layer": name, "params": int(layers.params[name]), "drop": float(scorer.drop(layers.only(name)))})
    measured = sorted(rows, key=lambda r: r["drop"], reverse=True)
    rest = [n for n in layers.names if n not in {r["layer"] for r in rows}]
    return {"method": method, "ranked": [r["layer"] for r in measured] + rest, "rows": measured,
            "seconds": round(time.perf_counter() - started, 3), "complete": not rest,
            "selection_rows": int(scorer.evaluation.rows)}


