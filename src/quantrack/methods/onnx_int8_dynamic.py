"""ONNX Runtime dynamic quantization: int8 weights, activations quantized on each call.

The recipe is a typed config whose unset knobs (None) are chosen per graph (``resolve``):
- a plain graph (quantrack's MLP/CNN, no attention) keeps ORT's defaults as before: every op ORT's
  dynamic quantizer knows (MatMul, Conv, Gather...), one scale per weight tensor;
- a transformer (Softmax over an activation x activation MatMul) gets the recipe measured best on
  all-MiniLM-L6-v2 (DESIGN.md): the MatMuls (and the embeddings' Gather) only, per-channel weights
  (cosine 0.992-0.993 against 0.964 for ORT's defaults, file 0.26x); ``reduce_range`` (7-bit
  weights) when the CPU lacks VNNI, where u8 x s8 products summed in int16 (AVX2's vpmaddubsw) can
  saturate (ORT's advice; on this AVX2 CPU it measured 0.9924 against 0.9928 without: noise).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.methods import _onnx_graph as og
from quantrack.methods import onnx_common as oc
from quantrack.methods.base import Method, QuantContext

TRANSFORMER_OPS = ("MatMul",)  # Gemm is rewritten to MatMul first: ORT's dynamic quantizer has no Gemm


@dataclass(frozen=True)
class OnnxDynamicConfig(MethodConfig):
    op_types: tuple[str, ...] | None = knob(
        None, "None: per graph: MatMul only on a transformer (int8 attention softmax/LayerNorm inputs cost "
              "quality for little time), every op ORT's dynamic quantizer knows on other graphs")
    per_channel: bool | None = knob(
        None, "None: per graph: one scale per output channel on a transformer (its weight rows differ widely: "
              "0.964 -> 0.993 cosine on MiniLM); per tensor on small MLPs/CNNs, as before")
    reduce_range: bool | None = knob(
        None, "None: 7-bit weights on a transformer when the CPU has no VNNI (AVX2's int16 accumulation of u8 x s8 "
              "pairs can saturate); full 8 bits otherwise")
    quantize_embeddings: bool = knob(
        True, "the embeddings' Gather in int8 too (ORT's default): measured on MiniLM it costs 0.0003 of cosine "
              "and makes the file 0.26x of fp32's instead of 0.65x (the token table is half the model)")
    weight_type: str = knob("QInt8", "signed int8 weights: symmetric around 0, as trained weights are")
    weight_symmetric: bool = knob(True, "int8 weights centred on 0: the zero point costs a subtraction per product")
    nodes_to_exclude: tuple[str, ...] = knob((), "node names kept in float, on top of the recipe")
    optimize_transformer: bool = knob(
        False, "ORT's transformer optimizer first: measured on MiniLM's export it fuses only the LayerNorms "
               "(SkipLayerNormalization, no Attention) for the same cosine (0.9925 vs 0.9921), and the file then "
               "needs ORT's contrib ops")

    # What a search may vary: the knobs whose effect depends on the model and CPU. Left out: op_types and
    # the optimizer (measured on MiniLM: no gain over the per-graph defaults), weight types (kernels expect them).
    SEARCH_SPACE = {"per_channel": (False, True), "reduce_range": (False, True), "quantize_embeddings": (True, False)}

    def __post_init__(self) -> None:
        from quantrack.errors import QuantrackError

        self._one_of("per_channel", (None, False, True))
        self._one_of("weight_type", ("QInt8", "QUInt8"))
        if self.op_types is not None and not self.op_types:
            raise QuantrackError(f"{type(self).__name__}.op_types must name at least one op type (or be None: "
                                 "per graph)")

    def resolve(self, graph: og.GraphFacts, int8_dot: bool | None) -> OnnxDynamicConfig:
        """Every None knob decided from the graph (and the CPU for reduce_range)."""
        t = graph.is_transformer
        per_channel = t if self.per_channel is None else self.per_channel
        return replace(
            self,
            op_types=(TRANSFORMER_OPS if t else None) if self.op_types is None else self.op_types,
            per_channel=per_channel,
            reduce_range=(t and int8_dot is False) if self.reduce_range is None else self.reduce_range,
        )


def _op_list(cfg: OnnxDynamicConfig) -> list[str] | None:
    """op_types_to_quantize for ORT: None (all it knows) unless the config narrows or widens it."""
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    ops = list(IntegerOpsRegistry) if cfg.op_types is None else list(cfg.op_types)
    if cfg.quantize_embeddings and "Gather" not in ops:
        ops.append("Gather")
    if not cfg.quantize_embeddings:
        ops = [o for o in ops if o != "Gather"]
    return None if cfg.op_types is None and cfg.quantize_embeddings else ops


def quantize(model_bytes: bytes, config: OnnxDynamicConfig | None = None, *, int8_dot: bool | None = None) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from quantrack.core.cpu import has_int8_dot

    # ORT's dynamic quantizer handles MatMul and Conv, not Gemm (which the exporter emits for Linear).
    model_bytes = oc.gemm_to_matmul(model_bytes)
    if config is None or any(v is None for v in (config.op_types, config.per_channel, config.reduce_range)):
        config = (config or OnnxDynamicConfig()).resolve(og.facts(model_bytes),
                                                         has_int8_dot() if int8_dot is None else int8_dot)
    if config.optimize_transformer:
        model_bytes = oc.optimize_transformer(model_bytes)
    with oc.scratch() as d, oc.quiet():
        src, dst = d / "float.onnx", d / "int8.onnx"
        src.write_bytes(model_bytes)
        quantize_dynamic(src, dst, weight_type=QuantType[config.weight_type], per_channel=bool(config.per_channel),
                         reduce_range=bool(config.reduce_range), op_types_to_quantize=_op_list(config),
                         nodes_to_exclude=list(config.nodes_to_exclude),
                         extra_options={"WeightSymmetric": config.weight_symmetric})
        return dst.read_bytes()


def apply(ctx: QuantContext) -> oc.OnnxVariant:
    from quantrack.core.cpu import has_int8_dot

    float_bytes, params = oc.float_graph(ctx)
    config = ctx.config_or(OnnxDynamicConfig()).resolve(og.facts(oc.gemm_to_matmul(float_bytes)), has_int8_dot())
    variant = oc.OnnxVariant(ctx.method, quantize(float_bytes, config), params, ctx.threads)
    variant.recipe = config.to_dict()
    return variant


def load(path: Path, fresh: nn.Module, name: str, config: OnnxDynamicConfig) -> oc.OnnxVariant:
    return oc.load_variant(name, path, fresh)


METHOD = Method(summary="ONNX Runtime quantize_dynamic: int8 weights, activations quantized at run time "
                "(MatMul-only per-channel on transformers)",
                apply=apply, load=load, requires=("onnx", "onnxruntime"), onnx_graph=True, config=OnnxDynamicConfig)
