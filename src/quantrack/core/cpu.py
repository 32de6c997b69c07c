"""The CPU facts a report states: the instruction sets that decide int8 and half-precision speed,
and the one line that names them (evaluate/hardware.py measures them; the report and the terminal
print them)."""

from __future__ import annotations

from typing import Any

# The instruction sets that decide int8 and half-precision speed on x86 (names as /proc/cpuinfo spells them).
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16", "avx512_fp16",
         "amx_fp16")
INT8_DOT = ("avx512_vnni", "avx_vnni", "amx_int8")  # int8 dot-product instructions
BF16_NATIVE = ("avx512_bf16", "amx_bf16")
FP16_NATIVE = ("avx512_fp16", "amx_fp16")


def cpu_line(cpu: dict[str, Any]) -> str:
    """One line for the report header: the model, the sets present and, as importantly, those absent."""
    parts = [f"{cpu.get('model') or 'unknown CPU'}, {cpu.get('usable_cores')} of {cpu.get('cores')} cores usable"]
    parts.append("has " + (", ".join(cpu.get("flags") or []) or "none of " + ", ".join(FLAGS)))
    if cpu.get("missing"):
        parts.append("lacks " + ", ".join(cpu["missing"]))
    parts.append(f"torch kernels {cpu.get('torch_capability')}, quantized engine {cpu.get('quantized_engine')}")
    if cpu.get("onnxruntime"):
        parts.append(f"ONNX Runtime {cpu['onnxruntime']} ({cpu.get('onnxruntime_provider')})")
    parts.append(f"{cpu.get('threads')} thread(s)")
    return "; ".join(parts)
