"""Registry of quantization methods: one module per method, imported only when used.

Names are listed here (not discovered by importing) so that ``--help`` and config
validation never import torch. Each module defines ``METHOD``, a :class:`Method`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quantrack.quantize.base import Method

# name -> module; order is the report's order.
_MODULES: dict[str, str] = {
    "dynamic-int8": "quantrack.quantize.dynamic_int8",
}

METHOD_NAMES: tuple[str, ...] = tuple(_MODULES)

__all__ = ["METHOD_NAMES", "get_method"]


def get_method(name: str) -> Method:
    """Import and return a method. Raises ImportError when its libraries are missing."""
    module = importlib.import_module(_MODULES[name])
    return module.METHOD
