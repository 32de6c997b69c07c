"""torchao int4 weight-only on CPU: 4-bit Linear weights with a scale per group of 32 inputs.

torchao 0.18's ``Int4WeightOnlyConfig`` has no CPU kernel (its packing formats need CUDA,
XPU/NPU or the mslk library), so this uses ``IntxWeightOnlyConfig(weight_dtype=torch.int4)``,
torchao's CPU path for the same scheme. It keeps the 4-bit values unpacked, one per int8
byte, in memory and in the saved state_dict: the payload counts that stored byte, not half
of one, so it reports the size actually shipped.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from quantrack.models import count_params
from quantrack.methods import _torchao
from quantrack.methods.base import Method, QuantContext, TorchVariant, weight_payload

NAME = "int4-weight-only"
GROUP = 32  # inputs per scale; layers whose width it does not divide get one scale per output row
STORED_BYTES = 1  # IntxUnpackedToInt8Tensor: one int4 value per int8 element


def granularity(model: nn.Module):
    """Groups of GROUP inputs when every Linear's width allows it, else one scale per row."""
    from torchao.quantization.granularity import PerAxis, PerGroup

    widths = [m.in_features for m in model.modules() if isinstance(m, nn.Linear)]
    return PerGroup(GROUP) if all(w % GROUP == 0 for w in widths) else PerAxis(0)


def config(model: nn.Module):
    tq = _torchao.import_torchao()
    if not hasattr(tq, "IntxWeightOnlyConfig"):
        from quantrack.methods.base import MethodUnavailable

        raise MethodUnavailable("torchao.quantization.IntxWeightOnlyConfig is not available in this torchao")
    return tq.IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=granularity(model))


def apply(ctx: QuantContext) -> TorchVariant:
    quantized = _torchao.quantize_copy(ctx.model, config(ctx.model))
    return TorchVariant(NAME, quantized, count_params(ctx.model), weight_payload(ctx.model, STORED_BYTES))


def load(path: Path, fresh: nn.Module) -> TorchVariant:
    return _torchao.load(NAME, path, fresh, config, STORED_BYTES)


METHOD = Method(
    name=NAME,
    summary=f"torchao quantize_(IntxWeightOnlyConfig int4, groups of {GROUP}): 4-bit Linear weights held in int8",
    apply=apply,
    load=load,
    requires=("torchao",),
)
