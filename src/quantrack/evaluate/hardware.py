"""The machine that produced the timings, and why a variant was not faster on it.

Whether int8 or bf16 pays depends on the CPU's instruction sets: the same int8 MLP measured 3.7x
faster than fp32 on a CPU with AVX-512 VNNI and 1.2-1.6x on an AVX2-only one (DESIGN.md). A report
that names neither the instruction sets nor the reason cannot be read on another machine.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from quantrack.core.cpu import BF16_NATIVE, FLAGS, FP16_NATIVE, INT8_DOT, parse_cpuinfo  # noqa: F401 (re-exported)
from quantrack.core.results import FASTER, Latency

SMALL_CALL_US = 100.0  # below this a call is dominated by fixed per-call costs (dispatch, conversions)

_INT8_COMPUTE = {"dynamic-int8": "quantizing each input on the fly", "static-int8": "quantize/dequantize steps",
                 "qat-int8": "quantize/dequantize steps", "onnx-int8-dynamic": "quantizing each input on the fly",
                 "onnx-int8-static": "quantize/dequantize steps", "openvino-int8": "quantize/dequantize steps",
                 "torchao-int8-dynamic": "quantizing each input on the fly",
                 "torchao-int8-dynamic-compiled": "quantizing each input on the fly",
                 "pt2e-int8-static-compiled": "quantize/dequantize steps"}
# Run eager, a PT2E graph is its reference arithmetic: int8 storage, float compute (Inductor fuses it into int8 kernels).
_REFERENCE_GRAPH = {"pt2e-int8-static": "pt2e-int8-static-compiled"}
_WEIGHT_ONLY = {"int8-weight-only": "int8", "int4-weight-only": "int4", "openvino-int8-weights": "int8",
                "openvino-int4-weights": "int4"}
_OTHER_RUNTIME_FP32 = ("onnx-fp32", "openvino-fp32")  # fp32 arithmetic, another runtime


def cpu_facts(threads: int, cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """What report.json records under environment.cpu (and MLflow under cpu.* tags)."""
    import torch

    try:
        model, flags = parse_cpuinfo(cpuinfo.read_text(encoding="utf-8", errors="replace"))
        known = True
    except OSError:  # not Linux: the model from platform, the flags unknown (not "absent")
        model, flags, known = platform.processor() or None, set(), False
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    facts: dict[str, Any] = {
        "model": model,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "flags": [f for f in FLAGS if f in flags],
        "missing": [f for f in FLAGS if f not in flags] if known else None,
        # The best kernel set torch's own dispatch picked here ("AVX2", "AVX512", ...).
        "torch_capability": _torch_capability(torch),
        "quantized_engine": torch.backends.quantized.engine,
        "onnxruntime": None,
        "onnxruntime_provider": None,
        "threads": threads,
    }
    try:
        from importlib.metadata import version

        facts["onnxruntime"] = version("onnxruntime")
        facts["onnxruntime_provider"] = "CPUExecutionProvider"  # the one onnx_common.session asks for
    except Exception:  # not installed: the ONNX methods are then listed as unavailable anyway
        pass
    try:
        from importlib.metadata import version

        facts["openvino"] = version("openvino")  # its CPU plugin; the precision it ran at is per variant
    except Exception:  # the optional extra is not installed
        facts["openvino"] = None
    return facts


def _torch_capability(torch) -> str | None:
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return None


def explain(method: str, latency: Iterable[Latency], cpu: dict[str, Any], params: int | None) -> str | None:
    """One line on why ``method`` was not faster than fp32, from measured facts; None when it was faster
    at every batch size (or is fp32 itself)."""
    not_faster = [lat for lat in latency if lat.verdict is not None and lat.verdict != FASTER]
    if not not_faster:
        return None
    verdicts = ", ".join(f"{lat.verdict} at batch {lat.batch_size}" for lat in not_faster)
    flags = set(cpu.get("flags") or [])
    flags_known = cpu.get("missing") is not None
    reasons = []
    if method in _INT8_COMPUTE and flags_known and not flags & set(INT8_DOT):
        base = "AVX-512" if "avx512f" in flags else "AVX2"
        reasons.append(f"no VNNI here (no {', '.join(INT8_DOT)}), so int8 matmuls run on plain {base}, with little "
                       "gain over fp32")
    if method == "torchao-int8-dynamic":
        reasons.append("run eager, each Linear goes through torchao's int8 tensor subclass (Python dispatch, then "
                       "torch._int_mm's eager CPU kernel), with no fusion (torchao-int8-dynamic-compiled lowers it "
                       "with Inductor)")
    if method in _REFERENCE_GRAPH:
        reasons.append("run eager, the PT2E graph is the reference arithmetic: every int8 weight is dequantized and "
                       "multiplied in float, and every activation quantized and dequantized, which saves memory, not "
                       f"compute ({_REFERENCE_GRAPH[method]} fuses them into int8 kernels)")
    if method in _WEIGHT_ONLY:
        reasons.append(f"{_WEIGHT_ONLY[method]} weight-only turns the weights back into float on every call and "
                       "multiplies in float: it saves memory, not compute")
    if method == "fp16" and flags_known and not flags & set(FP16_NATIVE):
        reasons.append(f"fp16 has no native CPU kernel here (no {', '.join(FP16_NATIVE)}), so values are "
                       "converted to fp32 around each op")
    if method == "bf16" and flags_known and not flags & set(BF16_NATIVE):
        reasons.append(f"bf16 has no native CPU kernel here (no {', '.join(BF16_NATIVE)}), so values are "
                       "converted to fp32 around each op")
    if method in _OTHER_RUNTIME_FP32:
        reasons.append("the same fp32 arithmetic in another runtime: only per-call overhead can differ")
    if method == "openvino" and flags_known:
        if flags & set(BF16_NATIVE):
            reasons.append("OpenVINO runs bf16 here (AMX/AVX-512 BF16 present): its gain depends on the matmuls "
                           "being large enough to feed those units")
        else:
            reasons.append(f"OpenVINO's default precision is f32 on this CPU (no {', '.join(BF16_NATIVE)}): fp32 "
                           "arithmetic in another runtime, only the file holds fp16 weights")
    # The largest batch that was not faster: if fp32 is quick even there, fixed costs dominate everywhere below it.
    big = max(not_faster, key=lambda lat: lat.batch_size)
    if big.baseline_p50_us is not None and big.baseline_p50_us < SMALL_CALL_US:
        cost = _INT8_COMPUTE.get(method, "dispatch and conversions")
        size = f", {params:,} parameters" if params else ""
        reasons.append(f"too small a model for per-call overhead to pay off: fp32 takes {big.baseline_p50_us:,.1f} µs "
                       f"a call at batch {big.batch_size}{size}, so fixed costs ({cost}) weigh as much as the "
                       "arithmetic saved")
    if not reasons:
        reasons.append("none of the facts recorded here (instruction sets, model size, per-call time) explains it")
    return f"{verdicts}: " + "; ".join(reasons)


def short_reasons(why: str) -> list[str]:
    """The reasons of an :func:`explain` line, each in a few words and without the variant's own figures, so
    the variants one reason applies to can share one terminal line (the full line stays in the report)."""
    import re

    _, _, reasons = why.partition(": ")
    out = []
    for reason in reasons.split("; "):
        if reason.startswith("no VNNI here"):
            base = "AVX-512" if "plain AVX-512" in reason else "AVX2"
            text = f"no VNNI here: int8 matmuls run on plain {base}"
        elif " weight-only turns the weights back into float" in reason:
            text = "weight-only: weights are turned back into float on every call (saves memory, not compute)"
        elif "has no native CPU kernel here" in reason:
            text = "no native fp16/bf16 kernel here: values are converted to fp32 around each op"
        elif reason.startswith("too small a model"):
            params = re.search(r"([\d,]+) parameters", reason)
            text = ("too small a model (" + (f"{params.group(1)} parameters, " if params else "")
                    + f"fp32 under {SMALL_CALL_US:.0f} µs a call) for fixed costs to pay off")
        else:
            text = reason
        if text not in out:
            out.append(text)
    return out
