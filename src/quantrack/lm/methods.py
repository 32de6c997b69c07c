"""Quantization methods for causal LMs: typed configs and their own registry.

Why a registry apart from ``quantrack.methods``: a classifier method turns a module taking
feature arrays into a :class:`~quantrack.methods.base.Variant` scored on rows, saved as a file and
run through one contract test over logreg/mlp/cnn. An LM method must return a module that still
``generate``\\ s (transformers' own class, its KV cache, its tied embeddings), is scored on token
windows and never needs a row-wise ``Variant``. Sharing one registry would make every classifier
path skip the LM entries (and the reverse) by kind; two small registries keep each honest. The
shared parts are shared below them: the torchao plumbing (methods/_torchao.py), the assignment's
``quantize_dynamic`` (methods/dynamic_int8.py) and the config base (core/method_config.py).

Every method works on a copy; fp32 is the baseline and is the model itself. A method that cannot
run here says why (``LMMethodUnavailable``), measured rather than assumed where possible.

The output projection of a small LM is usually *tied* to the input embedding (SmolLM2: one 49,152 x
576 matrix, 21 % of the weights). Quantizing it stores a quantized copy beside the float embedding,
so memory goes *up*; by default a tied output projection stays float (``quantize_tied_lm_head``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quantrack.core.method_config import MethodConfig, NoConfig, knob
from quantrack.errors import QuantrackError
from quantrack.lm.sensitivity import Base, MixedLM
from quantrack.lm.unavailable import LMMethodUnavailable

__all__ = ["BASELINE", "LM_METHOD_NAMES", "LMMethod", "LMMethodUnavailable", "base_of", "chosen", "get_lm_method"]

BASELINE = "fp32"
_TIED_WHY = ("tied to the input embedding in small LMs: quantizing it adds a quantized copy beside the float "
             "embedding, so memory grows")




@dataclass(frozen=True)
class TorchaoInt8WeightOnly(MethodConfig):
    quantize_tied_lm_head: bool = knob(False, _TIED_WHY)


@dataclass(frozen=True)
class TorchaoInt8Dynamic(MethodConfig):
    quantize_tied_lm_head: bool = knob(False, _TIED_WHY)


@dataclass(frozen=True)
class TorchaoInt4WeightOnly(MethodConfig):
    group_size: int = knob(64, "one scale per 64 inputs: the published SmolLM2 4-bit figure's group, and it divides "
                               "the 576-wide layers of SmolLM2-135M (128 does not); 32 is closer to fp32 at 2x the "
                               "scales")
    quantize_tied_lm_head: bool = knob(False, _TIED_WHY)
    SEARCH_SPACE = {"group_size": (32, 64, 128)}

    def __post_init__(self) -> None:
        if self.group_size not in (32, 64, 128, 256):
            raise QuantrackError(f"int4-weight-only: group_size must be 32, 64, 128 or 256, got {self.group_size!r}")


@dataclass(frozen=True)
class HQQ(MethodConfig):
    nbits: int = knob(4, "4 bits: HQQ's point (half-quadratic zero/scale fit) is keeping 4-bit close without "
                         "calibration data; 8 bits is near lossless with any method")
    group_size: int = knob(64, "HQQ's own recommended group for 4 bits")
    quantize_tied_lm_head: bool = knob(False, _TIED_WHY)
    SEARCH_SPACE = {"nbits": (4, 8), "group_size": (32, 64, 128)}

    def __post_init__(self) -> None:
        if self.nbits not in (2, 3, 4, 8):
            raise QuantrackError(f"hqq: nbits must be 2, 3, 4 or 8, got {self.nbits!r}")
        if self.group_size not in (32, 64, 128, 256):
            raise QuantrackError(f"hqq: group_size must be 32, 64, 128 or 256, got {self.group_size!r}")


OV_INT8_MODES = ("int8_asym", "int8_sym")
OV_INT4_MODES = ("int4_asym", "int4_sym")


@dataclass(frozen=True)
class OpenVinoInt8Weights(MethodConfig):
    mode: str = knob("int8_asym", "NNCF's default: a zero point per output channel fits skewed weight rows")
    SEARCH_SPACE = {"mode": OV_INT8_MODES}

    def __post_init__(self) -> None:
        if self.mode not in OV_INT8_MODES:
            raise QuantrackError(f"openvino-int8-weights: mode must be one of {', '.join(OV_INT8_MODES)}, "
                                 f"got {self.mode!r}")


@dataclass(frozen=True)
class OpenVinoInt4Weights(MethodConfig):
    mode: str = knob("int4_asym", "a zero point per group: OpenVINO's docs put INT4_ASYM for accuracy at a small "
                                  "speed cost, and a <1B model loses more under int4 than a large one")
    group_size: int = knob(64, "one scale per 64 inputs: NNCF's 128 does not divide SmolLM2-135M's 576-wide "
                               "layers (9 x 64); the same group as int4-weight-only and the published 4-bit figure")
    ratio: float = knob(1.0, "NNCF's default: every eligible layer in int4 (a lower ratio leaves the rest int8)")
    all_layers: bool = knob(False, "NNCF's default: the embedding and the last layer stay int8 (for a tied "
                                   "embedding: 21 % of SmolLM2's weights, the layer int4 hurts most)")
    SEARCH_SPACE = {"group_size": (32, 64, 128), "ratio": (0.8, 1.0), "mode": OV_INT4_MODES}

    def __post_init__(self) -> None:
        if self.mode not in OV_INT4_MODES:
            raise QuantrackError(f"openvino-int4-weights: mode must be one of {', '.join(OV_INT4_MODES)}, "
                                 f"got {self.mode!r}")
        if isinstance(self.group_size, bool) or not isinstance(self.group_size, int) or \
                (self.group_size < 1 and self.group_size != -1):
            raise QuantrackError(f"openvino-int4-weights: group_size must be positive (or -1: per channel), "
                                 f"got {self.group_size!r}")
        if not (isinstance(self.ratio, (int, float)) and 0.0 < self.ratio <= 1.0):
            raise QuantrackError(f"openvino-int4-weights: ratio must be in (0, 1], got {self.ratio!r}")


@dataclass(frozen=True)
class LMMethod:
    name: str
    summary: str
    config: type[MethodConfig]
    build: Callable[..., Any]  # (fp32 model, config[, only=Linear names]) -> a new model that can generate
    requires: tuple[str, ...] = ()
    calibrated: bool = False  # build also takes calibration=<token windows> (None: the user gave no calibration_texts)

    def unavailable_reason(self) -> str | None:
        import importlib.util

        for mod in self.requires:
            if importlib.util.find_spec(mod) is None:
                return f"package {mod!r} is not installed"
        return None


def _keep_float(model, config) -> set[int]:
    """ids of Linear modules left in float: a tied output projection unless the config says otherwise."""
    if getattr(config, "quantize_tied_lm_head", False):
        return set()
    head, emb = model.get_output_embeddings(), model.get_input_embeddings()
    tied = head is not None and emb is not None and head.weight is emb.weight
    return {id(head)} if tied else set()


def quantized_linears(model, config) -> list[str]:
    """Names of the Linear modules a torchao-based method quantizes (all but a float-kept tied head)."""
    from torch import nn

    keep = _keep_float(model, config)
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and id(m) not in keep]


def _quantize_with(model, ao_config, config, only: set[str] | None = None) -> Any:
    """A copy with torchao's ``ao_config`` applied to the Linear modules the method quantizes (``only``:
    just these names, for the mixed method)."""
    from quantrack.methods import _torchao

    tq = _torchao.import_torchao()
    names = set(quantized_linears(model, config)) if only is None else set(only)
    quantized = copy.deepcopy(model).eval()
    with _torchao.quiet():
        tq.quantize_(quantized, ao_config, filter_fn=lambda m, fqn: fqn in names)
    return quantized


def _fp32(model, config):
    return model


def _bf16(model, config):
    import torch

    return copy.deepcopy(model).to(torch.bfloat16).eval()


def _int8_weight_only(model, config, only=None):
    from quantrack.methods import _torchao

    return _quantize_with(model, _torchao.import_torchao().Int8WeightOnlyConfig(), config, only)


def _int8_dynamic(model, config, only=None):
    from quantrack.methods import _torchao

    return _quantize_with(model, _torchao.import_torchao().Int8DynamicActivationInt8WeightConfig(), config, only)


def _int4_weight_only(model, config, only=None):
    import torch
    from torchao.quantization.granularity import PerGroup

    from quantrack.methods import _torchao

    tq = _torchao.import_torchao()
    if not hasattr(tq, "IntxWeightOnlyConfig"):
        raise LMMethodUnavailable("torchao.quantization.IntxWeightOnlyConfig is not in this torchao")
    from torch import nn

    odd = sorted({m.in_features for m in model.modules() if isinstance(m, nn.Linear) and m.in_features % config.group_size})
    if odd:
        raise LMMethodUnavailable(f"group_size {config.group_size} does not divide the Linear input width(s) "
                                  f"{', '.join(map(str, odd))}; choose a smaller group")
    return _quantize_with(model, tq.IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(config.group_size)),
                          config, only)


def _hqq(model, config):
    import torch
    from torch import nn

    from quantrack.methods.base import quiet_libraries

    with quiet_libraries(("hqq",)):
        from hqq.core.quantize import BaseQuantizeConfig, HQQLinear
    quantized = copy.deepcopy(model).eval()
    keep = _keep_float(model, config)
    keep = {id(m2) for m1, m2 in zip(model.modules(), quantized.modules(), strict=True) if id(m1) in keep}
    qc = BaseQuantizeConfig(nbits=config.nbits, group_size=config.group_size)
    for parent in list(quantized.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and id(child) not in keep:
                with quiet_libraries(("hqq",)):
                    setattr(parent, child_name, HQQLinear(child, qc, compute_dtype=torch.float32, device="cpu"))
    return quantized


def _dynamic_int8(model, config, only=None):
    from quantrack.methods.base import MethodUnavailable
    from quantrack.methods.dynamic_int8 import quantize_dynamic_int8
    from quantrack.methods.mixed_int8 import quantize_named

    try:
        return quantize_dynamic_int8(model) if only is None else quantize_named(model, only)
    except MethodUnavailable as e:
        raise LMMethodUnavailable(str(e)) from None


def _openvino_fp32(model, config):
    from quantrack.lm import openvino

    return openvino.build(model, "openvino-fp32", compress_to_fp16=False, precision="f32")


def _openvino_int8_weights(model, config):
    from quantrack.lm import openvino

    return openvino.build(model, "openvino-int8-weights", mode=config.mode)


def _openvino_int4_weights(model, config):
    from quantrack.lm import openvino

    return openvino.build(model, "openvino-int4-weights", mode=config.mode, group_size=config.group_size,
                          ratio=config.ratio, all_layers=config.all_layers)


def base_of(name: str) -> Base:
    """A method mixed-blocks can apply to some Linear modules only, with its default config."""
    method = get_lm_method(name)
    cfg = method.config()
    if name == "dynamic-int8":  # torch.ao quantize_dynamic: every Linear, the tied output projection too
        def linears(model) -> list[str]:
            from torch import nn

            return [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    else:
        def linears(model) -> list[str]:
            return quantized_linears(model, cfg)
    return Base(name, lambda model, names: method.build(model, cfg, only=set(names)), linears)


def _mixed(model, config, calibration=None, progress=None):
    from quantrack.lm.sensitivity import build_mixed

    return build_mixed(model, config, calibration, base_of(config.base), progress)


def _int4_tinygemm_reason() -> str:
    """Why torchao's Int4WeightOnlyConfig (what its GPTQ and AWQ quantize into) cannot run here: tried."""
    import torch
    from torch import nn

    from quantrack.errors import first_line
    from quantrack.methods import _torchao

    tq = _torchao.import_torchao()
    try:
        with _torchao.quiet():
            probe = nn.Sequential(nn.Linear(256, 256)).eval()
            tq.quantize_(probe, tq.Int4WeightOnlyConfig(group_size=128))
            probe(torch.zeros(1, 256))
    except Exception as e:
        return f"Int4WeightOnlyConfig fails on this CPU ({type(e).__name__}: {first_line(e)})"
    return ""


def _gptq(model, config):
    import torch

    if not torch.cuda.is_available():
        raise LMMethodUnavailable("torchao's GPTQ (torchao.prototype.gptq) runs on CUDA only ('GPTQ only supports "
                                  "CUDA currently'), and no other maintained CPU GPTQ is installed")
    raise LMMethodUnavailable("GPTQ on CUDA is outside this CPU comparison")


def _awq(model, config):
    reason = _int4_tinygemm_reason()
    raise LMMethodUnavailable("torchao's AWQ (torchao.prototype.awq) quantizes into Int4WeightOnlyConfig; "
                              + (reason or "its CPU path is not wired here"))


# name -> method; order is the report's order.
_REGISTRY: dict[str, LMMethod] = {m.name: m for m in (
    LMMethod(BASELINE, "this checkpoint in float32", NoConfig, _fp32),
    LMMethod("bf16", "bfloat16 copy of every parameter (activations and KV cache in bfloat16)", NoConfig, _bf16),
    LMMethod("int8-weight-only", "torchao Int8WeightOnlyConfig: int8 Linear weights per row, float activations",
             TorchaoInt8WeightOnly, _int8_weight_only, ("torchao",)),
    LMMethod("int8-dynamic", "torchao Int8DynamicActivationInt8WeightConfig: int8 weights, activations quantized "
             "per token at run time", TorchaoInt8Dynamic, _int8_dynamic, ("torchao",)),
    LMMethod("int4-weight-only", "torchao IntxWeightOnlyConfig(int4, PerGroup): 4-bit weights (held one per int8 "
             "byte), the CPU route: Int4WeightOnlyConfig's packings do not run on a CPU in torchao 0.18 (plain and "
             "preshuffled need the mslk library, plain_int32 has no CPU kernel, tile_packed_to_4d needs CUDA)",
             TorchaoInt4WeightOnly, _int4_weight_only, ("torchao",)),
    LMMethod("hqq", "HQQ (hqq package, PyTorch backend): half-quadratic 4-bit weights, packed two per byte, "
             "dequantized per call; no calibration data", HQQ, _hqq, ("hqq",)),
    LMMethod("openvino-fp32", "OpenVINO IR in fp32 (weights and inference), KV cache in and out: the runtime's "
             "gain alone", NoConfig, _openvino_fp32, ("openvino",)),
    LMMethod("openvino-int8-weights", "NNCF int8 weight compression (per channel, the embedding too), float "
             "activations, run by OpenVINO", OpenVinoInt8Weights, _openvino_int8_weights, ("openvino", "nncf")),
    LMMethod("openvino-int4-weights", "NNCF int4 group-wise weight compression (embedding and last layer int8), "
             "float activations, run by OpenVINO", OpenVinoInt4Weights, _openvino_int4_weights, ("openvino", "nncf")),
    LMMethod("gptq", "GPTQ (calibrated second-order rounding)", NoConfig, _gptq, ("torchao",)),
    LMMethod("awq", "AWQ (activation-aware scaling)", NoConfig, _awq, ("torchao",)),
    LMMethod("dynamic-int8", "torch.ao quantize_dynamic (the assignment's method): every Linear int8, activations "
             "quantized per call", NoConfig, _dynamic_int8),
    LMMethod("mixed-blocks", "a base method (int8-dynamic by default) on every transformer block but the worst "
             "`keep`, ranked one block at a time on calibration_texts; those stay float", MixedLM, _mixed,
             ("torchao",), calibrated=True),
)}

LM_METHOD_NAMES: tuple[str, ...] = tuple(n for n in _REGISTRY if n != BASELINE)


def get_lm_method(name: str) -> LMMethod:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise QuantrackError(f"unknown LM method {name!r}; choose from all, {', '.join(LM_METHOD_NAMES)}") from None


def chosen(methods: str | list[str] | tuple[str, ...]) -> list[str]:
    """fp32 first, then the asked-for methods in registry order."""
    asked = [m.strip() for m in methods.split(",")] if isinstance(methods, str) else list(methods)
    if not asked or not all(isinstance(m, str) and m for m in asked):
        raise QuantrackError("methods must be 'all' or a list of LM method names")
    for m in asked:
        if m not in ("all", BASELINE):
            get_lm_method(m)
    return [BASELINE] + [n for n in LM_METHOD_NAMES if "all" in asked or n in asked]
