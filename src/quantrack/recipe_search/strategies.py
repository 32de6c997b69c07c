"""Which registered methods the search tries, with which config classes, and which per-layer
fallback each supports.

The mixed-precision methods (mixed-int8, onnx-mixed-int8) choose their float layers on the rows
they are then scored on; in the search their greedy layer fallback becomes a strategy over their
plain method (dynamic-int8, onnx-int8-dynamic), chosen on the selection rows and judged on the
held-out ones. Everything else registered is searched through its config class's ``SEARCH_SPACE``,
so a method added to the registry (with its config) is searched without touching this package.
"""

from __future__ import annotations

from collections.abc import Sequence

# mixed method -> the plain method whose per-layer fallback the search runs instead
MIXED = {"mixed-int8": "dynamic-int8", "onnx-mixed-int8": "onnx-int8-dynamic"}


def searchable_methods() -> list[str]:
    from quantrack.methods import METHOD_NAMES

    return [m for m in METHOD_NAMES if m not in MIXED]


def config_classes(names: Sequence[str]) -> dict:
    """Each method's config class; a method whose libraries do not import gets none (its default
    trial records why it is unavailable)."""
    from quantrack.core.method_config import NoConfig
    from quantrack.methods import get_method

    out = {}
    for m in names:
        try:
            out[m] = get_method(m).config
        except ImportError:
            out[m] = NoConfig
    return out


def fallback_methods(names: Sequence[str]) -> list[str]:
    """The methods with a per-layer table (evaluate/sensitivity.py's SEARCHABLE)."""
    from quantrack.evaluate.sensitivity import SEARCHABLE

    return [m for m in names if m in SEARCHABLE]
