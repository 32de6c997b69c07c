"""openvino-int8: NNCF post-training static int8 (``nncf.quantize``) of the OpenVINO model.

Calibration rows go in as an ``nncf.Dataset`` (one row per item). On a transformer (attention in
the graph) ``model_type=TRANSFORMER``: NNCF then applies SmoothQuant, which moves the FFN
down-projection inputs' outliers (up to 24 against a 99.9th percentile near 2.5 on MiniLM) into
the weights, and keeps Softmax/LayerNorm paths in float (MiniLM 0.997 cosine; 0.9926 without it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.errors import QuantrackError
from quantrack.methods import _openvino as ovc
from quantrack.methods.base import Method, QuantContext

PRESETS = ("performance", "mixed")
MODEL_TYPES = ("auto", "transformer", "none")


@dataclass(frozen=True)
class OpenVinoInt8Config(MethodConfig):
    model_type: str = knob("auto", "auto: TRANSFORMER when the graph has attention (SmoothQuant, float Softmax/"
                                   "LayerNorm paths), none otherwise")
    preset: str | None = knob(None, "None: NNCF's choice: mixed (asymmetric activations) for transformers, whose "
                                    "GELU outputs are one-sided; performance (symmetric) otherwise")
    subset_size: int = knob(300, "NNCF's default number of calibration rows: ranges settle well before it")
    fast_bias_correction: bool = knob(True, "NNCF's default: corrects the int8 bias shift in seconds, not minutes")

    SEARCH_SPACE = {"preset": (None, "performance", "mixed"), "fast_bias_correction": (True, False),
                    "model_type": ("auto", "none")}

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise QuantrackError(f"{type(self).__name__}.model_type must be one of {', '.join(MODEL_TYPES)}, got {self.model_type!r}")
        if self.preset is not None and self.preset not in PRESETS:
            raise QuantrackError(f"{type(self).__name__}.preset must be one of {', '.join(PRESETS)} or None, got {self.preset!r}")
        if self.subset_size < 1:
            raise QuantrackError(f"{type(self).__name__}.subset_size must be at least 1, got {self.subset_size}")


def apply(ctx: QuantContext) -> ovc.OpenVinoVariant:
    calibration = ctx.require_calibration()
    config = ctx.config_or(OpenVinoInt8Config())
    model = ovc.convert(ctx)
    transformer = config.model_type == "transformer" or (config.model_type == "auto" and ovc.is_transformer(model))
    with ovc.nncf_errors("nncf.quantize"), ovc.quiet():
        import nncf

        preset = None if config.preset is None else nncf.QuantizationPreset(config.preset)
        quantized = nncf.quantize(model, ovc.calibration_dataset(calibration, config.subset_size), preset=preset,
                                  subset_size=config.subset_size, fast_bias_correction=config.fast_bias_correction,
                                  model_type=nncf.ModelType.TRANSFORMER if transformer else None)
    variant = ovc.variant(ctx.method, quantized, ctx, ovc.float_params(ctx), compress_to_fp16=True)
    variant.recipe = {**config.to_dict(), "model_type": "transformer" if transformer else "none"}
    return variant


def load(path: Path, fresh: nn.Module, name: str, config) -> ovc.OpenVinoVariant:
    return ovc.load_variant(name, path, fresh)


METHOD = Method(summary="NNCF static int8 (nncf.quantize, TRANSFORMER mode on attention graphs), "
                "run by OpenVINO", apply=apply, load=load, requires=("openvino", "nncf"), onnx_graph=True,
                config=OpenVinoInt8Config, extra=ovc.EXTRA)
