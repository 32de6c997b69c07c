"""What a variant costs the way LLM users read it: prefill time, decode tokens/s, weight bytes, memory.

- **Prefill**: one forward over the prompt (a fresh KV cache each call), timed side by side with
  fp32 in alternating windows (evaluate/timing.py ``time_against``).
- **Decode**: one greedy step with the KV cache: the prompt is prefilled once, then each timed
  call feeds one token and crops the cache back to the prompt's length, so every call decodes at
  the same position (what ``generate`` does per new token, without the drift of a growing cache).
  Tokens per second = 1 / the step's median time; the spread from its quartiles.
- **Weight bytes**: the bytes the module's tensors hold in memory (parameters, buffers, packed or
  tensor-subclass weights flattened to their inner tensors; shared storage counted once).
- **Peak memory**: Linux's peak resident set size of this process (``VmHWM``), reset before the
  variant is built (``/proc/self/clear_refs``) and read after it is scored and timed. It is the
  *process's* peak, so it includes Python, torch and the fp32 model held for comparison;
  ``added`` is that peak minus the resident size just before the variant was built. Elsewhere
  than Linux it is not measured (None), rather than guessed.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quantrack.core.results import Latency
from quantrack.evaluate.timing import time_against, time_calls

# Seconds of side-by-side timing per variant, for prefill and again for decode: windows of a ~50 ms
# call, ~6 of them fit and the median ratio settles (compare_lm's latency_budget_s).
LATENCY_BUDGET_S = 2.0
WINDOW_S = 0.15  # a window of a few calls: a 30 ms step would otherwise get one call per window


@dataclass(frozen=True)
class Memory:
    peak_rss_bytes: int | None
    added_bytes: int | None  # peak minus the resident size before the variant was built
    how: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cache_keyword(model) -> str:
    """transformers 5 renamed ``past_key_values`` to ``cache`` (the old name warns)."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _cache_of(output) -> Any:
    cache = output.get("cache") if hasattr(output, "get") else None
    return cache if cache is not None else output.past_key_values


def prefill_runner(model, prompt: np.ndarray):
    import torch

    x = torch.from_numpy(np.ascontiguousarray(prompt))[None]

    def run():
        return model(input_ids=x, use_cache=True)

    return run


def decode_runner(model, prompt: np.ndarray):
    """A zero-argument call decoding one token at position len(prompt) with the KV cache."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(prompt))[None]
    with torch.inference_mode():
        out = model(input_ids=x, use_cache=True)
    cache = _cache_of(out)
    nxt = out.logits[:, -1:].argmax(-1)
    key = _cache_keyword(model)

    def run():
        model(input_ids=nxt, use_cache=True, **{key: cache})
        cache.crop(-1)  # back to the prompt: the next call decodes at the same position

    return run


def time_cost(variant, baseline, prompt: np.ndarray, *, threads: int, budget_s: float = LATENCY_BUDGET_S
              ) -> tuple[Latency, Latency]:
    """(prefill, decode) of ``variant``; against ``baseline`` when given (fp32 alone otherwise)."""
    import torch

    out = []
    for make in (prefill_runner, decode_runner):
        with torch.inference_mode():
            run = make(variant, prompt)
            if baseline is None:
                out.append(time_calls(run, threads=threads, batch_size=1, budget_s=budget_s, min_samples=10))
            else:
                out.append(time_against(run, make(baseline, prompt), threads=threads, batch_size=1,
                                        budget_s=budget_s, window_s=WINDOW_S, min_calls=1))
    return out[0], out[1]


def tokens_per_s(decode: Latency) -> tuple[float, float, float]:
    """(median, low, high): 1 / the step's p50, and 1 / its p75 and p25."""
    return 1e6 / decode.p50_us, 1e6 / decode.p75_us, 1e6 / decode.p25_us


def _inner(t) -> list:
    """Plain tensors behind a tensor subclass (torchao's quantized weights) or a quantized tensor."""
    if hasattr(t, "__tensor_flatten__") and type(t).__name__ not in ("Tensor", "Parameter"):
        names, _ = t.__tensor_flatten__()
        return [x for n in names for x in _inner(getattr(t, n))]
    return [t]


def weight_bytes(module) -> int:
    """Bytes held by the module's state (shared storage once); a variant that is not a torch module
    (an OpenVINO IR) says its own (``weight_bytes()``)."""
    import torch

    own = getattr(module, "weight_bytes", None)
    if callable(own):
        return int(own())

    seen: set[tuple[int, int]] = set()
    total = 0

    def add(t) -> None:
        nonlocal total
        for x in _inner(t):
            if not isinstance(x, torch.Tensor):
                continue
            if x.is_quantized:  # torch.ao packed weights: int8 values, scales not counted
                total += x.numel() * x.element_size()
                continue
            try:
                storage = x.untyped_storage()
                key = (storage.data_ptr(), storage.nbytes())
            except (RuntimeError, NotImplementedError):
                total += x.numel() * x.element_size()
                continue
            if key not in seen:
                seen.add(key)
                total += storage.nbytes()

    for value in module.state_dict(keep_vars=True).values():
        for v in (value if isinstance(value, (tuple, list)) else (value,)):
            if isinstance(v, torch.Tensor):
                add(v)
    return int(total)


_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@contextlib.contextmanager
def peak_memory():
    """Yield a list that receives one :class:`Memory` when the block ends."""
    import gc

    gc.collect()
    reset = False
    try:
        _CLEAR.write_text("5")  # Linux: resets VmHWM to the current resident size
        reset = True
    except OSError:
        pass
    before = _status_kb("VmRSS")
    box: list[Memory] = []
    try:
        yield box
    finally:
        peak = _status_kb("VmHWM") if reset else None
        how = ("process peak RSS (VmHWM, reset before building the variant); includes the fp32 model and runtime"
               if reset else "not measured: /proc/self/clear_refs is not available here")
        box.append(Memory(peak, None if peak is None or before is None else max(0, peak - before), how))
