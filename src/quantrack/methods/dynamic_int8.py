"""Dynamic int8 (the assignment's method): int8 Linear weights, activations quantized per call.

Uses ``torch.ao.quantization.quantize_dynamic``, deprecated since PyTorch 2.10 but still
the fastest int8 Linear path on x86 CPUs; when it is removed this method reports itself
unavailable and the others still run.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from quantrack.core.method_config import NoConfig
from quantrack.models import count_params
from pathlib import Path

from quantrack.methods.base import (Method, MethodUnavailable, QuantContext, TorchVariant, load_state_dict_file,
                                    weight_payload)


def quantize_dynamic_int8(model: nn.Module) -> nn.Module:
    """A dynamically quantized copy of ``model`` (used again when loading a saved state_dict)."""
    import copy

    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError as e:  # removed from a future PyTorch
        raise MethodUnavailable(f"torch.ao.quantization.quantize_dynamic is not available: {e}") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation warning fires on every call
        return quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)


def apply(ctx: QuantContext) -> TorchVariant:
    model = ctx.float_copy()
    params, payload = count_params(model), weight_payload(model, 1)
    return TorchVariant(ctx.method, quantize_dynamic_int8(model), params, payload)


def load(path: Path, fresh: nn.Module, name: str, config: NoConfig) -> TorchVariant:
    """Quantize the fresh model's structure, then load the saved int8 weights and scales."""
    params, payload = count_params(fresh), weight_payload(fresh, 1)
    quantized = quantize_dynamic_int8(fresh)
    quantized.load_state_dict(load_state_dict_file(path))
    return TorchVariant(name, quantized, params, payload)


METHOD = Method(
    summary="torch.ao dynamic quantization: int8 Linear weights, activations quantized at run time",
    apply=apply,
    load=load,
)
