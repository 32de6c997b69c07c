"""openvino-int8-weights: NNCF int8 weight compression, activations in float (no calibration)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.errors import QuantrackError
from quantrack.methods import _openvino as ovc
from quantrack.methods import _openvino_weights as ovw
from quantrack.methods.base import Method, QuantContext

MODES = ("int8_asym", "int8_sym")


@dataclass(frozen=True)
class OpenVinoInt8WeightsConfig(MethodConfig):
    mode: str = knob("int8_asym", "NNCF's default: a zero point per output channel fits skewed weight rows")

    SEARCH_SPACE = {"mode": MODES}

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise QuantrackError(f"{type(self).__name__}.mode must be one of {', '.join(MODES)}, got {self.mode!r}")


def apply(ctx: QuantContext) -> ovc.OpenVinoVariant:
    config = ctx.config_or(OpenVinoInt8WeightsConfig())
    return ovw.apply(ctx.method, ctx, config.mode)


def load(path: Path, fresh: nn.Module, name: str, config) -> ovc.OpenVinoVariant:
    return ovc.load_variant(name, path, fresh)


METHOD = Method(summary="NNCF int8 weight compression (per channel), float activations, run by OpenVINO",
                apply=apply, load=load, requires=("openvino", "nncf"), onnx_graph=True,
                config=OpenVinoInt8WeightsConfig, extra=ovc.EXTRA)
