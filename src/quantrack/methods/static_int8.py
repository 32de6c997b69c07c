"""Post-training static int8 (torch.ao eager mode): weights per channel, activations calibrated.

Activation ranges are observed on training rows, so at run time both weights and activations
stay int8 between the QuantStub and the DeQuantStub (no per-call range computation, unlike
dynamic-int8). Convolutions are quantized too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.methods import _eager
from quantrack.methods.base import Method, QuantContext, TorchVariant


@dataclass(frozen=True)
class StaticInt8Config(MethodConfig):
    calibration_rows: int = knob(2048, "observers settle on a few thousand rows; more only costs time")
    calibration_batch_size: int = knob(256, "rows per observer call: large enough to be quick, small enough for memory")

    def __post_init__(self) -> None:
        self._positive_ints("calibration_rows", "calibration_batch_size")


def apply(ctx: QuantContext) -> TorchVariant:
    config = ctx.config_or(StaticInt8Config())
    rows = _eager.float_rows(ctx, ctx.method)
    prepared = _eager.prepare(ctx.model, qat=False)  # prepare() works on its own copy
    _eager.calibrate(prepared, rows, batch_size=config.calibration_batch_size, max_rows=config.calibration_rows)
    return _eager.variant(ctx.method, ctx.model, _eager.convert(prepared), rows)


def load(path: Path, fresh: nn.Module, name: str, config: StaticInt8Config) -> TorchVariant:
    return _eager.load(name, path, fresh, qat=False)


METHOD = Method(
    config=StaticInt8Config,
    summary="torch.ao post-training static quantization, per-channel int8 weights, calibrated on training rows",
    apply=apply,
    load=load,
)
