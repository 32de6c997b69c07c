"""openvino-fp32: the float model as an fp32 OpenVINO IR, run by the CPU plugin held to f32.

OpenVINO's defaults are not fp32: ``save_model`` stores fp16 weights and the CPU plugin runs bf16
where AMX/AVX-512 BF16 exist. An fp32 baseline in OpenVINO needs ``compress_to_fp16=False`` and
``INFERENCE_PRECISION_HINT=f32`` (DESIGN.md): this is the runtime's gain alone, no precision change.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from quantrack.methods import _openvino as ovc
from quantrack.methods.base import Method, QuantContext

PRECISION = "f32"


def apply(ctx: QuantContext) -> ovc.OpenVinoVariant:
    return ovc.variant(ctx.method, ovc.convert(ctx), ctx, ovc.float_params(ctx), compress_to_fp16=False, precision=PRECISION)


def load(path: Path, fresh: nn.Module, name: str, config) -> ovc.OpenVinoVariant:
    return ovc.load_variant(name, path, fresh, PRECISION)


METHOD = Method(summary="OpenVINO IR in fp32 (weights and inference), run by the CPU plugin",
                apply=apply, load=load, requires=("openvino",), onnx_graph=True, extra=ovc.EXTRA)
