"""Registry of quantization methods: one module per method, imported only when used.

Names are listed here (not discovered by importing) so that ``--help`` and config
validation never import torch. Each module defines ``METHOD``, a :class:`Method` without a
name: the key below is the only place a method's name is written (get_method fills it in).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from quantrack.errors import QuantrackError

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
    "openvino-fp32": "quantrack.methods.openvino_fp32",
    "openvino": "quantrack.methods.openvino_default",
    "openvino-int8": "quantrack.methods.openvino_int8",
    "openvino-int8-weights": "quantrack.methods.openvino_int8_weights",
    "openvino-int4-weights": "quantrack.methods.openvino_int4_weights",
}

# The methods a user chooses among; the baseline is always run and never listed here.
METHOD_NAMES: tuple[str, ...] = tuple(n for n in _MODULES if n != BASELINE)
# Run only when named: torch.compile costs a minute on a small model and ~10 on MiniLM (2 busy cores), so
# "all" (the default of compare and `quantrack run`) would make every comparison wait for it.
NAMED_ONLY: frozenset[str] = frozenset({"torchao-int8-dynamic-compiled", "pt2e-int8-static-compiled"})
# What "all" means.
ALL_METHODS: tuple[str, ...] = tuple(n for n in METHOD_NAMES if n not in NAMED_ONLY)

__all__ = ["ALL_METHODS", "BASELINE", "METHOD_NAMES", "NAMED_ONLY", "check_method_names", "expand", "get_method"]


def expand(chosen: Iterable[str]) -> list[str]:
    """The methods to run, in registry order: "all" is ALL_METHODS, plus any NAMED_ONLY ones named beside it."""
    chosen = set(chosen)
    return [m for m in METHOD_NAMES if m in chosen or ("all" in chosen and m not in NAMED_ONLY)]


def check_method_names(names: Iterable[str], *, allow_all: bool = True) -> list[str]:
    """The one check of method names (RunConfig, compare, quantize): ``names`` as a list, or a
    QuantrackError naming the unknown ones and the choices. The baseline is accepted (it always runs);
    ``all`` only where a list is asked for."""
    names = list(names)
    known = (*_MODULES, "all") if allow_all else tuple(_MODULES)
    unknown = [m for m in names if m not in known]
    if unknown:
        choices = ("all", *METHOD_NAMES) if allow_all else (BASELINE, *METHOD_NAMES)
        raise QuantrackError(f"unknown method {', '.join(map(repr, unknown))}; choose from {', '.join(choices)}")
    return names


@functools.cache
def get_method(name: str) -> Method:
    """Import and return a method, named by its registry key. Raises ImportError when its libraries
    are missing, KeyError for a name that is not registered (check_method_names says it clearly)."""
    method = importlib.import_module(_MODULES[name]).METHOD
    if method.name and method.name != name:
        raise ValueError(f"{_MODULES[name]} names its method {method.name!r}, registered as {name!r}")
    return dataclasses.replace(method, name=name)
