"""torchao int4 weight-only on CPU: 4-bit Linear weights with a scale per group of 32 inputs.

torchao 0.18's ``Int4WeightOnlyConfig`` has no CPU kernel (its packing formats need CUDA,
XPU/NPU or the mslk library), so this uses ``IntxWeightOnlyConfig(weight_dtype=torch.int4)``,
torchao's CPU path for the same scheme. It keeps the 4-bit values unpacked, one per int8
byte, in memory and in the saved state_dict: the payload counts that stored byte, not half
of one, so it reports the size actually shipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.models import count_params
from quantrack.methods import _torchao
from quantrack.methods.base import Method, QuantContext, TorchVariant, weight_payload

STORED_BYTES = 1  # IntxUnpackedToInt8Tensor: one int4 value per int8 element


@dataclass(frozen=True)
class Int4Config(MethodConfig):
    group_size: int = knob(32, "inputs per scale: 4 bits need fine scales; layers it does not divide get one per row")

    def __post_init__(self) -> None:
        self._positive_ints("group_size")


def granularity(model: nn.Module, group: int):
    """Groups of ``group`` inputs when every Linear's width allows it, else one scale per row."""
    from torchao.quantization.granularity import PerAxis, PerGroup

    widths = [m.in_features for m in model.modules() if isinstance(m, nn.Linear)]
    return PerGroup(group) if all(w % group == 0 for w in widths) else PerAxis(0)


def torchao_config(model: nn.Module, group: int):
    tq = _torchao.import_torchao()
    if not hasattr(tq, "IntxWeightOnlyConfig"):
        from quantrack.methods.base import MethodUnavailable

        raise MethodUnavailable("torchao.quantization.IntxWeightOnlyConfig is not available in this torchao")
    return tq.IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=granularity(model, group))


def apply(ctx: QuantContext) -> TorchVariant:
    group = ctx.config_or(Int4Config()).group_size
    quantized = _torchao.quantize_copy(ctx.model, torchao_config(ctx.model, group))
    return TorchVariant(ctx.method, quantized, count_params(ctx.model), weight_payload(ctx.model, STORED_BYTES))


def load(path: Path, fresh: nn.Module, name: str, config: Int4Config) -> TorchVariant:
    return _torchao.load(name, path, fresh, lambda m: torchao_config(m, config.group_size), STORED_BYTES)


METHOD = Method(
    config=Int4Config,
    summary=f"torchao quantize_(IntxWeightOnlyConfig int4, groups of {Int4Config.group_size}): 4-bit Linear weights "
            "held in int8",
    apply=apply,
    load=load,
    requires=("torchao",),
)
