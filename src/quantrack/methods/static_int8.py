"""Post-training static int8 (torch.ao eager mode): weights per channel, activations calibrated.

Activation ranges are observed on training rows, so at run time both weights and activations
stay int8 between the QuantStub and the DeQuantStub (no per-call range computation, unlike
dynamic-int8). Convolutions are quantized too.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from quantrack.methods import _eager
from quantrack.methods.base import Method, QuantContext, TorchVariant

NAME = "static-int8"


def apply(ctx: QuantContext) -> TorchVariant:
    rows = _eager.float_rows(ctx, NAME)
    prepared = _eager.prepare(ctx.model, qat=False)  # prepare() works on its own copy
    _eager.calibrate(prepared, rows)
    return _eager.variant(NAME, ctx.model, _eager.convert(prepared), rows)


def load(path: Path, fresh: nn.Module) -> TorchVariant:
    return _eager.load(NAME, path, fresh, qat=False)


METHOD = Method(
    name=NAME,
    summary="torch.ao post-training static quantization, per-channel int8 weights, calibrated on training rows",
    apply=apply,
    load=load,
)
