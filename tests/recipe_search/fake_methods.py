"""Test-local methods registered only in these tests: a knob-rich fake int8 (real per-tensor
rounding of the Linear weights to ``bits`` bits, saved bit-packed), one that is right on some rows
only, and one whose package is missing. Registering them needs no change to quantrack's registry."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from quantrack.core.method_config import MethodConfig, knob
from quantrack.errors import QuantrackError
from quantrack.methods.base import Method, QuantContext, TorchVariant

FAKE, MARKER, MISSING = "fake-int8", "fake-marker", "fake-missing"
MARK = 5.0  # rows whose last feature is above this are the ones fake-marker gets wrong


@dataclass(frozen=True)
class FakeConfig(MethodConfig):
    SEARCH_SPACE: ClassVar[dict[str, tuple]] = {"bits": (8, 6, 4, 2), "fail": (False, True)}
    bits: int = knob(8, "int8: the usual")
    fail: bool = knob(False, "a recipe that cannot run, to test that it is recorded")

    def __post_init__(self) -> None:
        if not 2 <= self.bits <= 8:
            raise QuantrackError(f"bits must be 2..8, got {self.bits}")
        if self.bits == 2 and self.fail:
            raise QuantrackError("bits=2 with fail=True is refused (a combination the config class rejects)")


class PackedVariant(TorchVariant):
    def __init__(self, name, module, params, payload, bits):
        super().__init__(name, module, params, payload)
        self.bits = bits

    def save(self, directory: Path) -> Path:
        path = Path(directory) / f"{self.name}.bin"
        blobs = []
        for p in self.module.parameters():
            w = p.detach().numpy().ravel()
            scale = float(np.abs(w).max()) or 1.0
            q = np.round((w / scale) * (2 ** (self.bits - 1) - 1)).astype(np.int16) + 2 ** (self.bits - 1)
            bits = np.unpackbits(q.astype(np.uint8)[:, None], axis=1)[:, 8 - self.bits:]
            blobs.append(np.packbits(bits.ravel()).tobytes())
        path.write_bytes(b"".join(blobs))
        return path


def _log(config: dict) -> None:
    log = os.environ.get("FAKE_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"pid": os.getpid(), "config": config}) + "\n")


def apply_fake(ctx: QuantContext) -> TorchVariant:
    cfg = ctx.config_or(FakeConfig())
    _log(cfg.to_dict())
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    if cfg.fail:
        raise RuntimeError("fake failure on purpose")
    model = ctx.float_copy()
    levels = 2 ** (cfg.bits - 1) - 1
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                scale = m.weight.abs().max().clamp_min(1e-12)
                m.weight.copy_(torch.round(m.weight / scale * levels) / levels * scale)
    params = sum(p.numel() for p in model.parameters())
    return PackedVariant(FAKE, model, params, int(params * cfg.bits / 8), cfg.bits)


class _Marker(nn.Module):
    """fp32's outputs, but the classes rotated on marked rows."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        out = self.model(x)
        return torch.where((x[:, -1:] > MARK), out.roll(1, dims=1), out)


def apply_marker(ctx: QuantContext) -> TorchVariant:
    model = ctx.float_copy()
    params = sum(p.numel() for p in model.parameters())
    return PackedVariant(MARKER, _Marker(model), params, params // 4, 4)


METHODS = {
    FAKE: Method(name=FAKE, summary="test: weights rounded to `bits` bits", apply=apply_fake, config=FakeConfig,
                 applies_to=("mlp",)),
    MARKER: Method(name=MARKER, summary="test: wrong on marked rows", apply=apply_marker, applies_to=("mlp",)),
    MISSING: Method(name=MISSING, summary="test: needs a package that is not there", apply=apply_fake,
                    requires=("no_such_module_for_quantrack_tests",)),
}
METHOD = None  # this module is registered under several names: see register()


def register(monkeypatch=None) -> None:
    """Add the fakes to quantrack's registry (undone by ``monkeypatch`` when given)."""
    import sys
    import types

    import quantrack.methods as registry

    modules = dict(registry._MODULES)
    for name, method in METHODS.items():
        mod_name = f"quantrack_test_fake_{name.replace('-', '_')}"
        mod = types.ModuleType(mod_name)
        mod.METHOD = method
        sys.modules[mod_name] = mod
        modules[name] = mod_name
    names = tuple(registry.METHOD_NAMES) + tuple(METHODS)
    if monkeypatch is not None:
        monkeypatch.setattr(registry, "_MODULES", modules)
        monkeypatch.setattr(registry, "METHOD_NAMES", names)
    else:
        registry._MODULES, registry.METHOD_NAMES = modules, names


def data_and_model(rows: int = 1200, seed: int = 0, features: int = 12, classes: int = 3):
    """A small MLP that classifies separable synthetic rows well (trained in well under a second)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    W = rng.normal(size=(features, classes))
    y = (X @ W).argmax(axis=1).astype(np.int64)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy 2-core machine: one thread is faster than two fighting
    try:
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(features, 48), nn.ReLU(), nn.Linear(48, 48), nn.ReLU(),
                              nn.Linear(48, classes))
        xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        for _ in range(150):  # plain SGD: Adam's first step alone costs seconds of lazy imports
            model.zero_grad()
            nn.functional.cross_entropy(model(xt), yt).backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= 0.3 * p.grad
    finally:
        torch.set_num_threads(threads)
    return model.eval(), X, y
