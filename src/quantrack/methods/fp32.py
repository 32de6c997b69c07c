"""The float32 baseline: the registry's first entry, a Variant like any other.

Its "quantization" is the identity on a private copy, so every other method is measured
against exactly the model the user gave.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from quantrack.models import count_params
from quantrack.core.method_config import NoConfig
from quantrack.methods import BASELINE
from quantrack.methods.base import Method, QuantContext, TorchVariant, Variant, float_payload, load_state_dict_file

def fp32_variant(model: nn.Module, name: str = BASELINE) -> TorchVariant:
    return TorchVariant(name, model, count_params(model), float_payload(model, 4))


def apply(ctx: QuantContext) -> Variant:
    if ctx.onnx_model is not None:  # an ONNX file: the given graph, run by ONNX Runtime as it is
        from quantrack.methods import onnx_common as oc

        return oc.OnnxVariant(ctx.method or BASELINE, ctx.onnx_model, oc.graph_params(ctx.onnx_model), ctx.threads)
    return fp32_variant(ctx.float_copy(), ctx.method or BASELINE)


def load_fp32(path: Path, fresh: nn.Module, name: str = BASELINE, config: NoConfig | None = None) -> TorchVariant:
    fresh.load_state_dict(load_state_dict_file(path))
    return fp32_variant(fresh.eval(), name)


METHOD = Method(summary="the float32 model as given: the baseline every variant is measured against",
                apply=apply, load=load_fp32, onnx_graph=True)
