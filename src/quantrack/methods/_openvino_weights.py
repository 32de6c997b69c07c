"""NNCF weight compression (``nncf.compress_weights``) shared by openvino-int8-weights and
openvino-int4-weights (and the LM methods openvino-int8-weights / openvino-int4-weights in
lm/openvino.py): weights stored in 8 or 4 bits, decompressed to float inside each matmul by the CPU
plugin; activations stay float. It saves memory and file, not arithmetic."""

from __future__ import annotations

from quantrack.methods import _openvino as ovc
from quantrack.methods.base import QuantContext


def compress(model, mode: str, **options):
    """``nncf.compress_weights`` on an ov.Model; a failure is the method's one-line reason (MethodUnavailable)."""
    with ovc.nncf_errors("nncf.compress_weights"), ovc.quiet():
        import nncf

        if "group_size" in options:  # a layer narrower than the group, or not a multiple of it, gets a fitting one
            options["advanced_parameters"] = nncf.AdvancedCompressionParameters(
                group_size_fallback_mode=nncf.GroupSizeFallbackMode.ADJUST)
        return nncf.compress_weights(model, mode=nncf.CompressWeightsMode(mode), **options)


def apply(name: str, ctx: QuantContext, mode: str, **options) -> ovc.OpenVinoVariant:
    compressed = compress(ovc.convert(ctx), mode, **options)
    return ovc.variant(name, compressed, ctx, ovc.float_params(ctx), compress_to_fp16=True)
