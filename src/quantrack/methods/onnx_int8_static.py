"""ONNX Runtime static quantization (QDQ): int8 weights, activations calibrated on the calibration rows.

The recipe is a typed config whose unset knobs (None) are chosen per graph (``resolve``):
- a plain graph (quantrack's MLP/CNN) keeps ORT's defaults as before: every op it can quantize,
  per-channel weights, MinMax calibration;
- a transformer (Softmax over an activation x activation MatMul) is where ORT's defaults collapse
  (MiniLM: cosine 0.37): they quantize the Add that puts the attention mask's huge negative values
  on the scores before each Softmax, and one per-tensor range for it rounds the real scores to zero.
  There the recipe quantizes MatMuls only and keeps in float what Optimum's exclusion passes keep
  (the mask Add, Softmax, LayerNorm, GELU) plus the attention (activation x activation) and
  FFN-output MatMuls, whose inputs have outliers (measured: MatMul only 0.94, with those kept 0.99;
  with the embeddings' Gather in int8 too, 0.990 at 0.37x of fp32's file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.methods import _onnx_graph as og
from quantrack.methods import onnx_common as oc
from quantrack.methods.base import Inputs, Method, QuantContext, as_inputs, rows_of

CALIBRATIONS = ("minmax", "percentile", "entropy")
TRANSFORMER_OPS = ("MatMul",)
TRANSFORMER_FLOAT = (og.MASK_ADD, og.SOFTMAX, og.LAYERNORM, og.GELU, og.ATTENTION_MATMUL, og.FFN_OUTPUT)


@dataclass(frozen=True)
class OnnxStaticConfig(MethodConfig):
    op_types: tuple[str, ...] | None = knob(
        None, "None: per graph: MatMul only on a transformer (quantizing its Adds is what collapses it), every "
              "op ORT can quantize elsewhere, as before")
    keep_float: tuple[str, ...] | None = knob(
        None, "None: per graph: on a transformer the mask Add, Softmax, LayerNorm, GELU, attention and FFN-output "
              f"MatMuls stay float (parts: {', '.join(og.PARTS)}); nothing elsewhere")
    per_channel: bool = knob(True, "a scale per output channel keeps small-range channels from rounding to 0")
    quant_format: str = knob("QDQ", "QuantizeLinear/DequantizeLinear pairs: ORT's recommended format on CPU")
    activation_type: str = knob("QUInt8", "unsigned int8 activations: ORT's x86 kernels (u8s8) expect them")
    weight_type: str = knob("QInt8", "signed int8 weights: symmetric around 0, as trained weights are")
    calibration: str = knob(
        "minmax", "the activations' observed range: no rows are clipped, and it is the cheapest; percentile/entropy "
                  "clip outliers (the calibration rows are padded to equal batches, which they need)")
    percentile: float = knob(99.999, "for calibration='percentile': the share of values the range keeps")
    activation_symmetric: bool = knob(False, "uint8 activations with a zero point: ReLU/GELU outputs are one-sided")
    weight_symmetric: bool = knob(True, "int8 weights centred on 0: no zero-point correction per product")
    reduce_range: bool | None = knob(
        None, "None: 7-bit weights on a transformer when the CPU has no VNNI (AVX2's int16 accumulation can "
              "saturate); full 8 bits otherwise")
    quantize_embeddings: bool = knob(
        True, "the embeddings' Gather in int8 too (ORT's default): measured on MiniLM it costs 0.0003 of cosine "
              "and makes the file 0.26x of fp32's instead of 0.65x (the token table is half the model)")
    nodes_to_exclude: tuple[str, ...] = knob((), "node names kept in float, on top of the recipe")
    calibration_rows: int = knob(1024, "MinMax ranges settle on about a thousand rows; more only costs time")
    calibration_batch_size: int = knob(128, "rows per calibration call, as before (MinMax ranges do not depend on it)")
    optimize_transformer: bool = knob(
        False, "ORT's transformer optimizer first: measured on MiniLM's export it fuses only the LayerNorms "
               "(SkipLayerNormalization, no Attention) for the same cosine (0.9925 vs 0.9921), and the file then "
               "needs ORT's contrib ops")

    # What a search may vary: calibration, channel scales, 7-bit weights and which transformer parts stay
    # float (none / Optimum's exclusions / those plus attention and FFN-output MatMuls).
    SEARCH_SPACE = {"calibration": CALIBRATIONS, "per_channel": (True, False), "reduce_range": (False, True),
                    "keep_float": ((), (og.MASK_ADD, og.SOFTMAX, og.LAYERNORM, og.GELU), TRANSFORMER_FLOAT)}

    def __post_init__(self) -> None:
        from quantrack.errors import QuantrackError

        self._one_of("per_channel", (False, True))
        self._one_of("quant_format", ("QDQ", "QOperator"))
        self._one_of("activation_type", ("QUInt8", "QInt8"))
        self._one_of("weight_type", ("QInt8", "QUInt8"))
        self._one_of("calibration", CALIBRATIONS)
        self._positive_ints("calibration_rows", "calibration_batch_size")
        if not 50.0 < self.percentile <= 100.0:
            raise QuantrackError(f"{type(self).__name__}.percentile must be in (50, 100], got {self.percentile}")
        if self.keep_float is not None:
            og.check_parts(self.keep_float, f"{type(self).__name__}.keep_float")

    def resolve(self, graph: og.GraphFacts, int8_dot: bool | None) -> OnnxStaticConfig:
        t = graph.is_transformer
        return replace(
            self,
            op_types=(TRANSFORMER_OPS if t else None) if self.op_types is None else self.op_types,
            keep_float=(TRANSFORMER_FLOAT if t else ()) if self.keep_float is None else self.keep_float,
            reduce_range=(t and int8_dot is False) if self.reduce_range is None else self.reduce_range,
        )


class _Rows:
    """A CalibrationDataReader over calibration rows in equal batches (ORT's reader protocol: get_next/None).

    The last batch is padded with rows from the start: percentile and entropy calibration stack
    every batch's activations and fail on ragged ones."""

    def __init__(self, feed: Callable[[Inputs], dict[str, np.ndarray]], calibration: Inputs, batch_size: int = 64,
                 max_rows: int = 1024) -> None:
        n = min(len(calibration[0]), max_rows)
        size = min(batch_size, n)
        batches = []
        for lo in range(0, n, size):
            idx = np.arange(lo, lo + size) % n
            batches.append(feed(rows_of(calibration, idx)))
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def _op_list(cfg: OnnxStaticConfig) -> list[str] | None:
    from onnxruntime.quantization.registry import QDQRegistry

    ops = list(QDQRegistry) if cfg.op_types is None else list(cfg.op_types)
    if cfg.quantize_embeddings and "Gather" not in ops:
        ops.append("Gather")
    if not cfg.quantize_embeddings:
        ops = [o for o in ops if o != "Gather"]
    return None if cfg.op_types is None and cfg.quantize_embeddings else ops


def quantize(model_bytes: bytes, calibration: Inputs, config: OnnxStaticConfig | None = None, *,
             int8_dot: bool | None = None) -> bytes:
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    from quantrack.core.cpu import has_int8_dot

    model_bytes = oc.without_value_info(model_bytes)
    if config is None or any(v is None for v in (config.op_types, config.keep_float, config.reduce_range)):
        config = (config or OnnxStaticConfig()).resolve(og.facts(model_bytes),
                                                        has_int8_dot() if int8_dot is None else int8_dot)
    if config.optimize_transformer:
        model_bytes = oc.optimize_transformer(model_bytes)
    exclude = [*og.facts(model_bytes).nodes(config.keep_float or ()), *config.nodes_to_exclude]
    feed = oc.OnnxVariant("float", model_bytes, 0).feed  # the graph's own input names and types
    reader = type("Reader", (_Rows, CalibrationDataReader), {})(feed, as_inputs(calibration),
                                                                config.calibration_batch_size, config.calibration_rows)
    method = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
              "entropy": CalibrationMethod.Entropy}[config.calibration]
    extra = {"ActivationSymmetric": config.activation_symmetric, "WeightSymmetric": config.weight_symmetric}
    if config.calibration == "percentile":
        extra["CalibPercentile"] = config.percentile
    with oc.scratch() as d, oc.quiet():
        src, dst = d / "float.onnx", d / "int8.onnx"
        src.write_bytes(model_bytes)
        quantize_static(src, dst, reader, quant_format=QuantFormat[config.quant_format], per_channel=config.per_channel,
                        reduce_range=bool(config.reduce_range), activation_type=QuantType[config.activation_type],
                        weight_type=QuantType[config.weight_type], op_types_to_quantize=_op_list(config),
                        nodes_to_exclude=exclude, calibrate_method=method, extra_options=extra)
        return dst.read_bytes()


def apply(ctx: QuantContext) -> oc.OnnxVariant:
    from quantrack.core.cpu import has_int8_dot

    calibration = ctx.require_calibration()
    float_bytes, params = oc.float_graph(ctx)
    config = ctx.config_or(OnnxStaticConfig()).resolve(og.facts(float_bytes), has_int8_dot())
    variant = oc.OnnxVariant(ctx.method, quantize(float_bytes, calibration, config), params, ctx.threads)
    variant.recipe = config.to_dict()
    return variant


def load(path: Path, fresh: nn.Module, name: str, config: OnnxStaticConfig) -> oc.OnnxVariant:
    return oc.load_variant(name, path, fresh)


METHOD = Method(summary="ONNX Runtime quantize_static (QDQ), per-channel int8 weights, calibrated "
                "activations (transformer-aware: mask Add, Softmax, LayerNorm, GELU kept float)",
                apply=apply, load=load, requires=("onnx", "onnxruntime"), onnx_graph=True, config=OnnxStaticConfig)
