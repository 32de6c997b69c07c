"""Half-precision copies (fp16, bf16): every parameter stored in 2 bytes, inputs cast once.

On CPU these save size; whether they save time depends on the CPU's native support for
the type (AVX512-FP16/AMX-BF16). The latency table says which, measured.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from quantrack.core.method_config import NoConfig
from quantrack.models import count_params
from quantrack.methods.base import Method, QuantContext, TorchVariant, float_payload, load_state_dict_file


def _variant(name: str, model: nn.Module, dtype: torch.dtype) -> TorchVariant:
    return TorchVariant(name, model, count_params(model), float_payload(model, 2), input_dtype=dtype)


def method(dtype: torch.dtype, summary: str) -> Method:
    def apply(ctx: QuantContext) -> TorchVariant:
        return _variant(ctx.method, ctx.float_copy().to(dtype), dtype)

    def load(path: Path, fresh: nn.Module, name: str, config: NoConfig) -> TorchVariant:
        half = fresh.eval().to(dtype)
        half.load_state_dict(load_state_dict_file(path))
        return _variant(name, half, dtype)

    return Method(summary=summary, apply=apply, load=load)
