"""onnx-mixed-int8: ONNX Runtime dynamic int8 with the most sensitive layers left in float.

Like onnx-int8-dynamic, but the MatMul/Conv nodes of the layers that cost the most quality are
passed to ``quantize_dynamic(nodes_to_exclude=...)``. Layers are named as ``model.named_modules()``
names them: from the node's weight initializer (``layers.0.weight``) or, when the exporter folded
a transpose into an anonymous one (Linear on 3-D inputs), from the node's module scope
(``/encoder/layer.0/output/dense/MatMul``). The artifact is the .onnx file, the float layers in
its metadata (``quantrack.float_layers``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection
from pathlib import Path

from torch import nn

from quantrack.methods import onnx_common as oc
from quantrack.methods._mixed import MixedConfig, MixedMethod, apply_mixed
from quantrack.methods.base import QuantContext
from quantrack.methods.fp32 import fp32_variant
from quantrack.models import count_params

PLAIN = "onnx-int8-dynamic"
LAYER_OPS = ("MatMul", "Conv")  # ops with a weight: the Linear and Conv layers
FLOAT_LAYERS_KEY = "quantrack.float_layers"
# One quantization at a time: oc.quiet() swaps sys.stdout and logger levels process-wide, which
# threads of a parallel search would restore in the wrong order. Scoring still runs in parallel.
_QUANTIZE_LOCK = threading.Lock()


def module_of(node, initializers: set[str], modules: set[str]) -> str | None:
    """The module a weight node belongs to, or None when it has no constant weight (x @ y of attention)."""
    weights = [i for i in node.input[1:2] if i in initializers]
    if not weights:
        return None
    if weights[0].endswith(".weight") and weights[0][: -len(".weight")] in modules:
        return weights[0][: -len(".weight")]
    name = ""
    for part in node.name.strip("/").split("/")[:-1]:  # "/layers/layers.0/Gemm" -> "layers.0"
        name = part if part.startswith(f"{name}.") or not name else f"{name}.{part}"
    return name if name in modules else node.name


def quantize(model_bytes: bytes, exclude: Collection[str]) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _QUANTIZE_LOCK, oc.scratch() as d, oc.quiet():
        src, dst = d / "float.onnx", d / "int8.onnx"
        src.write_bytes(model_bytes)
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=False, nodes_to_exclude=list(exclude))
        return dst.read_bytes()


def with_float_layers(model_bytes: bytes, float_layers: list[str]) -> bytes:
    import onnx

    m = onnx.load_from_string(model_bytes)
    entry = m.metadata_props.add()
    entry.key, entry.value = FLOAT_LAYERS_KEY, json.dumps(float_layers)
    return m.SerializeToString()


class OnnxLayers:
    """The float model's ONNX graph and its weight nodes per module, for the sensitivity search."""

    method = PLAIN

    def __init__(self, model: nn.Module, example, threads: int = 1) -> None:
        import onnx
        from onnxruntime.quantization.registry import IntegerOpsRegistry

        self.threads = threads
        self.total = count_params(model)
        self.float_bytes = oc.gemm_to_matmul(oc.export(model, example))
        graph = onnx.load_from_string(self.float_bytes).graph
        inits = {i.name: i for i in graph.initializer}
        modules = dict(model.named_modules())
        self.nodes: dict[str, list[str]] = {}  # module -> its weight nodes
        self.params: dict[str, int] = {}
        for node in graph.node:
            if node.op_type in LAYER_OPS and (layer := module_of(node, set(inits), set(modules))) is not None:
                self.nodes.setdefault(layer, []).append(node.name)
        for layer in self.nodes:
            mod = modules.get(layer)
            self.params[layer] = sum(p.numel() for p in mod.parameters()) if mod is not None else 0
        self.names = list(self.nodes)
        # Every node ORT's dynamic quantizer could touch (embeddings' Gather too): excluded but one.
        self.quantizable = [n.name for n in graph.node if n.op_type in IntegerOpsRegistry]

    def only(self, layer: str) -> oc.OnnxVariant:
        keep = set(self.nodes[layer])
        data = quantize(self.float_bytes, [n for n in self.quantizable if n not in keep])
        return oc.OnnxVariant(f"{PLAIN}:{layer}", data, self.total, self.threads)

    def mixed(self, float_layers: Collection[str], name: str) -> oc.OnnxVariant:
        """onnx-int8-dynamic exactly, except the float layers' nodes (none: the plain variant)."""
        float_layers = [n for n in dict.fromkeys(float_layers) if n in self.nodes]  # order kept: most sensitive first
        data = quantize(self.float_bytes, [node for n in float_layers for node in self.nodes[n]])
        variant = oc.OnnxVariant(name, with_float_layers(data, float_layers), self.total, self.threads)
        variant.float_layers = float_layers
        return variant


def apply(ctx: QuantContext) -> oc.OnnxVariant:
    model = ctx.float_copy()
    return apply_mixed(ctx, OnnxLayers(model, ctx.example, ctx.threads), fp32_variant(model), ctx.method)


def load(path: Path, fresh: nn.Module, name: str, config: MixedConfig) -> oc.OnnxVariant:
    import onnx

    variant = oc.load_variant(name, path, fresh)
    meta = {p.key: p.value for p in onnx.load_from_string(variant.model_bytes).metadata_props}
    variant.float_layers = json.loads(meta.get(FLOAT_LAYERS_KEY, "[]"))
    return variant


METHOD = MixedMethod(
    config=MixedConfig,
    summary="ONNX Runtime dynamic int8 except the most sensitive MatMul/Conv layers, kept in float until the "
            "drop is within the budget",
    apply=apply,
    load=load,
    applies_to=("mlp", "cnn"),  # logreg has a single layer
    requires=("onnx", "onnxruntime"),
)
