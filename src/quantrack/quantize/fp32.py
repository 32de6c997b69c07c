"""The float32 baseline, as a Variant like any other."""

from __future__ import annotations

from torch import nn

from quantrack.models import count_params
from quantrack.quantize.base import TorchVariant, float_payload


def fp32_variant(model: nn.Module) -> TorchVariant:
    return TorchVariant("fp32", model, count_params(model), float_payload(model, 4))
