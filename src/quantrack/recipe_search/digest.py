"""Fingerprints of what a trial's figures depend on: the model, the data and the measuring settings.

A cached trial is reused only when all of them match, so a retrained model, another evaluation
file, another split or another quantrack version measures afresh instead of reusing figures that
belong to something else.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def model_digest(model: Any) -> str:
    """sha256 of an ONNX graph's bytes, or of a torch module's class and every tensor of its state."""
    h = hashlib.sha256()
    data = getattr(model, "model_bytes", None)
    if data is not None:
        h.update(b"onnx\0")
        h.update(data)
        return h.hexdigest()
    cls = type(model)
    h.update(f"torch\0{cls.__module__}.{cls.__qualname__}\0".encode())
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        h.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.view(-1).view(__import__("torch").uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def arrays_digest(*arrays: np.ndarray | None) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none\0")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def metric_identity(metric: Any) -> str:
    """A user metric by its qualified name and bytecode (an edited metric is another metric)."""
    if metric is None:
        return "accuracy"
    name = f"{getattr(metric, '__module__', '')}.{getattr(metric, '__qualname__', type(metric).__name__)}"
    code = getattr(metric, "__code__", None)
    return name + ("#" + hashlib.sha256(code.co_code).hexdigest()[:16] if code is not None else "")


def settings_digest(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
