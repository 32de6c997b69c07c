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

BASELINE = "fp32"
_TIED_WHY = ("tied to the input embedding in small LMs: quantizing it adds a quantized copy beside the float "
             "embedding, so memory grows")


class LMMethodUnavailable(Exception):
    """The method cannot run here; the message is the report's reason."""


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


@dataclass(frozen=True)
class LMMethod:
    name: str
    summary: str
    config: type[MethodConfig]
    build: Callable[[Any, MethodConfig], Any]  # (fp32 model, config) -> a new model that can generate
    requires: tuple[str, ...] = ()

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


def _quantize_with(model, ao_config, config) -> Any:
    from torch import nn

    from quantrack.methods import _torchao

    tq = _torchao.import_torchao()
    keep = _keep_float(model, config)
    quantized = copy.deepcopy(model).eval()
    keep = {id(m2) for m1, m2 in zip(model.modules(), quantized.modules(), strict=True) if id(m1) in keep}
    with _torchao.quiet():
        tq.quantize_(quantized, ao_config, filter_fn=lambda m, fqn: isinstance(m, nn.Linear) and id(m) not in keep)
    return quantized


def _fp32(model, config):
    return model


def _bf16(model, config):
    import torch

    return copy.deepcopy(model).to(torch.bfloat16).eval()


def _int8_weight_only(model, config):
    from quantrack.methods import _torchao

    return _quantize_with(model, _torchao.import_torchao().Int8WeightOnlyConfig(), config)


def _int8_dynamic(model, config):
    from quantrack.methods import _torchao

    return _quantize_with(model, _torchao.import_torchao().Int8DynamicActivationInt8WeightConfig(), config)


def _int4_weight_only(model, config):
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
                    config)


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


def _dynamic_int8(model, config):
    from quantrack.methods.base import MethodUnavailable
    from quantrack.methods.dynamic_int8 import quantize_dynamic_int8

    try:
        return quantize_dynamic_int8(model)
    except MethodUnavailable as e:
        raise LMMethodUnavailable(str(e)) from None


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
    LMMethod("gptq", "GPTQ (calibrated second-order rounding)", NoConfig, _gptq, ("torchao",)),
    LMMethod("awq", "AWQ (activation-aware scaling)", NoConfig, _awq, ("torchao",)),
    LMMethod("dynamic-int8", "torch.ao quantize_dynamic (the assignment's method): every Linear int8, activations "
             "quantized per call", NoConfig, _dynamic_int8),
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
