"""Shared plumbing of torchao's ``quantize_`` methods (Linear layers only; tensor-subclass weights).

torchao registers its tensor subclasses as safe globals, so their state_dicts load with
``torch.load(weights_only=True)``; loading re-quantizes a fresh model to get the structure
and then assigns the saved quantized tensors (``assign=True`` keeps the subclass).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from quantrack.models import count_params
from quantrack.methods.base import (MethodUnavailable, TorchVariant, load_state_dict_file, quiet_libraries,
                                    weight_payload)


def quiet():
    """torchao logs failed optional kernels and pytree notices at import: keep them off the terminal."""
    return quiet_libraries(("torchao", "torch.utils._pytree"))


def import_torchao() -> Any:
    with quiet():
        try:
            import torchao.quantization as tq
        except ImportError as e:
            raise MethodUnavailable(f"torchao is not importable: {e}") from None
    return tq


def quantize_copy(model: nn.Module, config: Any) -> nn.Module:
    import copy

    tq = import_torchao()
    quantized = copy.deepcopy(model).eval()
    with quiet():
        tq.quantize_(quantized, config)
    return quantized


def load(name: str, path: Path, fresh: nn.Module, make_config: Callable[[nn.Module], Any],
         weight_bytes: float) -> TorchVariant:
    quantized = quantize_copy(fresh, make_config(fresh))
    with quiet():
        quantized.load_state_dict(load_state_dict_file(path), assign=True)
    return TorchVariant(name, quantized.eval(), count_params(fresh), weight_payload(fresh, weight_bytes))
