"""torchao int8 weight-only: Linear weights stored int8 per row, dequantized inside the matmul.

Activations stay float32; convolutions (cnn) stay float32 as torchao's config targets Linear.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from quantrack.models import count_params
from quantrack.methods import _torchao
from quantrack.methods.base import Method, QuantContext, TorchVariant, weight_payload

NAME = "int8-weight-only"


def config(model: nn.Module):
    return _torchao.import_torchao().Int8WeightOnlyConfig()


def apply(ctx: QuantContext) -> TorchVariant:
    quantized = _torchao.quantize_copy(ctx.model, config(ctx.model))
    return TorchVariant(NAME, quantized, count_params(ctx.model), weight_payload(ctx.model, 1))


def load(path: Path, fresh: nn.Module) -> TorchVariant:
    return _torchao.load(NAME, path, fresh, config, 1)


METHOD = Method(
    name=NAME,
    summary="torchao quantize_(Int8WeightOnlyConfig): int8 Linear weights per row, float32 activations",
    apply=apply,
    load=load,
    requires=("torchao",),
)
