"""Registry of quantization methods: one module per method, imported only when used.

Names are listed here (not discovered by importing) so that ``--help`` and config
validation never import torch. Each module defines ``METHOD``, a :class:`Method`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from quantrack.methods.base import Method

BASELINE = "fp32"  # the float model every variant is compared with; always measured first

# name -> module; order is the report's order.
_MODULES: dict[str, str] = {
    BASELINE: "quantrack.methods.fp32",
    "dynamic-int8": "quantrack.methods.dynamic_int8",
    "static-int8": "quantrack.methods.static_int8",
    "qat-int8": "quantrack.methods.qat_int8",
    "fp16": "quantrack.methods.fp16",
    "bf16": "quantrack.methods.bf16",
    "int8-weight-only": "quantrack.methods.int8_weight_only",
    "int4-weight-only": "quantrack.methods.int4_weight_only",
    "torchao-int8-dynamic": "quantrack.methods.torchao_int8_dynamic",
    "torchao-int8-dynamic-compiled": "quantrack.methods.torchao_int8_dynamic_compiled",
    "pt2e-int8-static": "quantrack.methods.pt2e_int8_static",
    "pt2e-int8-static-compiled": "quantrack.methods.pt2e_int8_static_compiled",
    "pt2e-qat-int8": "quantrack.methods.pt2e_qat_int8",
    "onnx-fp32": "quantrack.methods.onnx_fp32",
    "onnx-int8-dynamic": "quantrack.methods.onnx_int8_dynamic",
    "onnx-int8-static": "quantrack.methods.onnx_int8_static",
    "mixed-int8": "quantrack.methods.mixed_int8",
    "onnx-mixed-int8": "quantrack.methods.onnx_mixed_int8",
}

# The methods a user chooses among ("all"); the baseline is always run and never listed here.
METHOD_NAMES: tuple[str, ...] = tuple(n for n in _MODULES if n != BASELINE)

__all__ = ["BASELINE", "METHOD_NAMES", "get_method"]


def get_method(name: str) -> Method:
    """Import and return a method. Raises ImportError when its libraries are missing."""
    module = importlib.import_module(_MODULES[name])
    return module.METHOD
