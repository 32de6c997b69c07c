"""The CPU's instruction sets, read from /proc/cpuinfo: what decides whether int8 or bf16 pays.

A leaf (no torch): the report's CPU line (evaluate/hardware.py) and the recipes whose defaults
depend on the CPU (ONNX Runtime's ``reduce_range`` without VNNI) read the same facts.
"""

from __future__ import annotations

import functools
from pathlib import Path

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
