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
    "static-int8": "quantrack.quantize.static_int8",
    "qat-int8": "quantrack.quantize.qat_int8",
    "fp16": "quantrack.quantize.fp16",
    "bf16": "quantrack.quantize.bf16",
    "int8-weight-only": "quantrack.quantize.int8_weight_only",
    "int4-weight-only": "quantrack.quantize.int4_weight_only",
    "onnx-fp32": "quantrack.quantize.onnx_fp32",
    "onnx-int8-dynamic": "quantrack.quantize.onnx_int8_dynamic",
    "onnx-int8-static": "quantrack.quantize.onnx_int8_static",
}

METHOD_NAMES: tuple[str, ...] = tuple(_MODULES)

__all__ = ["METHOD_NAMES", "get_method"]


def get_method(name: str) -> Method:
    """Import and return a method. Raises ImportError when its libraries are missing."""
    module = importlib.import_module(_MODULES[name])
    return module.METHOD
