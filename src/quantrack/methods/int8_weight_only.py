"""torchao int8 weight-only: Linear weights stored int8 per row, dequantized inside the matmul.

Activations stay float32; convolutions (cnn) stay float32 as torchao's config targets Linear.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from quantrack.core.method_config import NoConfig
from quantrack.models import count_params
from quantrack.methods import _torchao
from quantrack.methods.base import Method, QuantContext, TorchVariant, weight_payload

def torchao_config(model: nn.Module):
    return _torchao.import_torchao().Int8WeightOnlyConfig()


def apply(ctx: QuantContext) -> TorchVariant:
    quantized = _torchao.quantize_copy(ctx.model, torchao_config(ctx.model))
    return TorchVariant(ctx.method, quantized, count_params(ctx.model), weight_payload(ctx.model, 1))


def load(path: Path, fresh: nn.Module, name: str, config: NoConfig) -> TorchVariant:
    return _torchao.load(name, path, fresh, torchao_config, 1)


METHOD = Method(
    summary="torchao quantize_(Int8WeightOnlyConfig): int8 Linear weights per row, float32 activations",
    apply=apply,
    load=load,
    requires=("torchao",),
)
