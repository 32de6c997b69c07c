"""quantrack: should I quantize this model, how, and what does it cost me?

The public API::

    import quantrack
    report = quantrack.compare(model, calibration=X_train[:512], eval_data=(X_test, y_test))
    report.champion, report.variants, report.save("out")
    report = quantrack.search(model, calibration=X_train[:512], eval_data=(X_test, y_test), max_drop=0.01)
    report.search["trials"], report.search["pareto"]

Importing quantrack changes nothing process-wide and imports no heavy library: each public
name is loaded on first use (``quantrack --help`` stays fast, and a notebook pays for torch
only when it calls something).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from quantrack._version import __version__

if TYPE_CHECKING:
    from quantrack.config import RunConfig
    from quantrack.evaluate.compare import compare
    from quantrack.core.results import VariantResult
    from quantrack.report.document import Report
    from quantrack.methods.one import quantize
    from quantrack.evaluate.sensitivity import sensitivity
    from quantrack.recipe_search.api import search

# public name -> module that defines it
_PUBLIC = {
    "compare": "quantrack.evaluate.compare",
    "quantize": "quantrack.methods.one",
    "Report": "quantrack.report.document",
    "VariantResult": "quantrack.core.results",
    "RunConfig": "quantrack.config",
    "sensitivity": "quantrack.evaluate.sensitivity",
    "search": "quantrack.recipe_search.api",
}

__all__ = ["Report", "RunConfig", "VariantResult", "__version__", "compare", "quantize", "search", "sensitivity"]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'quantrack' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
