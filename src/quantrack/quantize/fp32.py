"""The float32 baseline, as a Variant like any other."""

from __future__ import annotations

from torch import nn

from quantrack.models import count_params
from pathlib import Path

from quantrack.quantize.base import TorchVariant, float_payload, load_state_dict_file


def fp32_variant(model: nn.Module) -> TorchVariant:
    return TorchVariant("fp32", model, count_params(model), float_payload(model, 4))


def load_fp32(path: Path, fresh: nn.Module) -> TorchVariant:
    fresh.load_state_dict(load_state_dict_file(path))
    return fp32_variant(fresh.eval())
