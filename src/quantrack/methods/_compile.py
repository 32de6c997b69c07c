"""torch.compile with Inductor and freezing, for the *-compiled methods: compiled once, up front, timed apart.

Freezing (``torch._inductor.config.freezing``) lets Inductor treat the weights as constants: it
folds them, prepacks them for oneDNN and, for PT2E graphs, turns dequantize->linear into one int8
kernel; PyTorch's PT2E x86 tutorial and torchao's CPU recipes compile with it on. It is a global
Inductor setting and ``torch.compile(options={"freezing": True})`` does not reach the pass that
reads it (measured: the PT2E graph then fails in oneDNN prepacking), so the wrapper below sets it
around every call of the compiled module and puts the previous value back: a recompile for an
unseen shape is frozen too, and nothing else in the process is.

Compilation happens in :func:`compile_module` on a batch of 2 rows and on 1 row (torch
specialises size-1 dimensions, so batch 1 gets its own graph and every other batch size shares a
dynamic one): the seconds it takes are reported as ``compile_seconds``, not hidden in a latency.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from quantrack.errors import first_line
from quantrack.methods.base import Inputs, MethodUnavailable, quiet_libraries

RUNTIME_COMPILED = "inductor (torch.compile, freezing)"
RUNTIME_EAGER = "eager"


class Compiled(nn.Module):
    """The module under torch.compile; every call runs with Inductor's freezing on (see the module doc), in
    inference mode."""

    def __init__(self, module: nn.Module, compiled: Any) -> None:
        super().__init__()
        self.inner = module  # what is saved: the uncompiled module's tensors
        object.__setattr__(self, "_compiled", compiled)  # not a submodule: its state would repeat inner's

    def forward(self, *args: Any) -> Any:
        import torch._inductor.config as inductor_config

        # The graphs were compiled on ordinary tensors, in inference mode: a call with grad enabled, or with
        # inference tensors (made inside inference mode: other dispatch keys), would fail dynamo's guards and
        # recompile. So such inputs are copied to ordinary ones (small: token ids, feature rows).
        if any(isinstance(a, torch.Tensor) and a.is_inference() for a in args):
            with torch.inference_mode(False):
                args = tuple(a.clone() if isinstance(a, torch.Tensor) and a.is_inference() else a for a in args)
        with inductor_config.patch(freezing=True), torch.inference_mode():
            return self._compiled(*args)


def _tensors(example: Inputs, rows: int) -> list[torch.Tensor]:
    out = []
    for a in example:
        t = torch.from_numpy(np.ascontiguousarray(a[:rows]))
        out.append(t.float() if t.is_floating_point() else t)
    return out


def compile_module(module: nn.Module, example: Inputs, *, dynamic_batch: bool = True) -> tuple[Compiled, float]:
    """(the compiled module, seconds spent compiling): Inductor compiles on the example here, at batch
    2 and 1, so neither the scoring nor the timed calls pay for it. ``module`` is in eval mode already
    (an exported graph refuses ``.eval()``). ``dynamic_batch``: mark the batch
    axis dynamic, so batch sizes other than those two do not recompile."""
    if len(example[0]) < 2:
        raise MethodUnavailable("compiling needs an example of at least 2 rows (one dynamic batch graph)")
    compiled = Compiled(module, torch.compile(module, backend="inductor", fullgraph=False))
    started = time.perf_counter()
    try:
        # Inductor's lowerings warn (tensor copy style, etc.) and log at compile: not the user's concern.
        two, one = _tensors(example, 2), _tensors(example, 1)  # ordinary tensors, as callers pass them
        if dynamic_batch:
            for t in two:
                torch._dynamo.mark_dynamic(t, 0)
        with quiet_libraries(("torch._inductor", "torch._dynamo", "torchao")):
            compiled(*two)
            compiled(*one)
    except Exception as e:
        raise MethodUnavailable(f"Inductor could not compile this model: {_compile_error(e)}") from None
    return compiled, time.perf_counter() - started


def _compile_error(e: BaseException) -> str:
    """One line naming the failing pass: Inductor wraps the real error (often an assert inside a
    torchao fusion pattern) in a BackendCompilerFailed whose message alone says little."""
    import traceback

    inner = e.__cause__ or e.__context__ or e
    frames = traceback.extract_tb(inner.__traceback__) if inner.__traceback__ else []
    where = next((f"{f.name} in {f.filename.split('site-packages/')[-1]}" for f in reversed(frames)
                  if "site-packages" in f.filename), None)
    # "in torch": torchao's pass or torch's own copy of it (torch/_inductor/fx_passes/quantization.py); which
    # one runs depends on what the process imported first, and both assert the same way.
    if isinstance(inner, AssertionError) and where and where.startswith("qlinear_post_op_fusion in torch"):
        return _FUSION_LIMIT.format(version=_version("torchao"))
    text = first_line(inner)
    what = type(inner).__name__ if text == type(inner).__name__ else f"{type(inner).__name__}: {text[:200]}"
    return what + (f" (in {where})" if where else "")


# torchao's x86 Inductor pass fuses a GELU into the int8 Linear before it, then its binary-fusion pattern
# matches that Linear again for the residual add that follows and asserts it carries no post op (torchao
# 0.18, inductor_passes/x86.py: qlinear_post_op_fusion). No setting skips the pattern (the fusions are
# registered unconditionally on x86 and need freezing, without which the graph does not prepack), so the
# user is told it is upstream's and where the same int8 graph runs.
_FUSION_LIMIT = ("an upstream limitation of torchao {version}: the x86 int8 fusion pass (qlinear_post_op_fusion) "
                 "asserts on a Linear whose fused GELU/activation output feeds an add (a residual); "
                 "pt2e-int8-static runs the same int8 graph eager")


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "(version unknown)"
