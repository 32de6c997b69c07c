"""The CPU facts a report states: the instruction sets that decide int8 and half-precision speed,
read from /proc/cpuinfo, and the one line that names them (evaluate/hardware.py measures them; the
report and the terminal print them; the recipes whose defaults depend on the CPU, ONNX Runtime's
``reduce_range`` without VNNI, read the same facts)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

# The instruction sets that decide int8 and half-precision speed on x86 (names as /proc/cpuinfo spells them).
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "avx512_fp16",
         "amx_fp16")
INT8_DOT = ("avx512_vnni", "avx_vnni", "amx_int8")  # int8 dot-product instructions
BF16_NATIVE = ("avx512_bf16", "amx_bf16")
FP16_NATIVE = ("avx512_fp16", "amx_fp16")


def parse_cpuinfo(text: str) -> tuple[str | None, set[str]]:
    """(model name, flags) of the first processor listed in /proc/cpuinfo's text."""
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
        if model is not None and flags:
            break
    return model, flags


@functools.cache
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str] | None:
    """This CPU's flags, or None when they cannot be read (not Linux): unknown, not absent."""
    try:
        return frozenset(parse_cpuinfo(cpuinfo.read_text(encoding="utf-8", errors="replace"))[1])
    except OSError:
        return None


def has_int8_dot() -> bool | None:
    """Whether the CPU has an int8 dot-product instruction (VNNI, AMX); None when unknown."""
    flags = cpu_flags()
    return None if flags is None else bool(flags & set(INT8_DOT))


def cpu_line(cpu: dict[str, Any]) -> str:
    """One line for the report header: the model, the sets present and, as importantly, those absent."""
    parts = [f"{cpu.get('model') or 'unknown CPU'}, {cpu.get('usable_cores')} of {cpu.get('cores')} cores usable"]
    parts.append("has " + (", ".join(cpu.get("flags") or []) or "none of " + ", ".join(FLAGS)))
    if cpu.get("missing"):
        parts.append("lacks " + ", ".join(cpu["missing"]))
    parts.append(f"torch kernels {cpu.get('torch_capability')}, quantized engine {cpu.get('quantized_engine')}")
    if cpu.get("onnxruntime"):
        parts.append(f"ONNX Runtime {cpu['onnxruntime']} ({cpu.get('onnxruntime_provider')})")
    if cpu.get("openvino"):
        parts.append(f"OpenVINO {cpu['openvino']} (CPU plugin)")
    parts.append(f"{cpu.get('threads')} thread(s)")
    return "; ".join(parts)
