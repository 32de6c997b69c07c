"""openvino-int4-weights: NNCF int4 group-wise weight compression, activations in float.

NNCF keeps the embeddings and the last layer in int8 (its ``all_layers=False`` default): they are
the layers int4 hurts most for the least file saved."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.errors import QuantrackError
from quantrack.methods import _openvino as ovc
from quantrack.methods import _openvino_weights as ovw
from quantrack.methods.base import Method, QuantContext

MODES = ("int4_asym", "int4_sym")


@dataclass(frozen=True)
class OpenVinoInt4WeightsConfig(MethodConfig):
    mode: str = knob("int4_asym", "a zero point per group: 16 levels fit a skewed group of weights better than a "
                                  "symmetric grid that wastes half of them")
    group_size: int = knob(128, "NNCF's default: one scale per 128 weights of a row, about 0.25 bits each; layers "
                                "narrower than a group get a fitting size")
    ratio: float = knob(1.0, "share of the eligible layers in int4 (the rest int8): all of them by default")
    all_layers: bool = knob(False, "NNCF's default: embeddings and the last layer stay int8")

    SEARCH_SPACE = {"group_size": (32, 64, 128), "ratio": (0.8, 1.0), "mode": MODES}

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise QuantrackError(f"{type(self).__name__}.mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.group_size < 1 and self.group_size != -1:
            raise QuantrackError(f"{type(self).__name__}.group_size must be positive (or -1: per channel), got {self.group_size}")
        if not 0.0 < self.ratio <= 1.0:
            raise QuantrackError(f"{type(self).__name__}.ratio must be in (0, 1], got {self.ratio}")


def apply(ctx: QuantContext) -> ovc.OpenVinoVariant:
    config = ctx.config_or(OpenVinoInt4WeightsConfig())
    return ovw.apply(ctx.method, ctx, config.mode, group_size=config.group_size, ratio=config.ratio,
                     all_layers=config.all_layers)


def load(path: Path, fresh: nn.Module, name: str, config) -> ovc.OpenVinoVariant:
    return ovc.load_variant(name, path, fresh)


METHOD = Method(summary="NNCF int4 group-wise weight compression, float activations, run by OpenVINO",
                apply=apply, load=load, requires=("openvino", "nncf"), onnx_graph=True,
                config=OpenVinoInt4WeightsConfig, extra=ovc.EXTRA)
