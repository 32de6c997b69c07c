"""What one trial of the search tries: a method, its config (knob values) and the layers kept in float.

A recipe is plain data (no torch): it can be hashed into a cache key, written into report.json,
and sent to a Ray worker. ``config`` holds only the knobs that differ from the method's defaults,
so two spellings of the same recipe are one recipe.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

# How a recipe came to be tried (the report says which strategy found the champion).
DEFAULTS, KNOBS, FALLBACK = "defaults", "knobs", "fallback"
STRATEGIES = (DEFAULTS, KNOBS, FALLBACK)


@dataclass(frozen=True)
class Recipe:
    method: str
    config: tuple[tuple[str, Any], ...] = ()  # (knob, value) pairs that differ from the defaults, sorted
    float_layers: tuple[str, ...] = ()  # per-layer fallback: these layers stay in float (most sensitive first)
    strategy: str = DEFAULTS

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        object.__setattr__(self, "config", tuple(sorted((str(k), _hashable(v)) for k, v in self.config)))
        object.__setattr__(self, "float_layers", tuple(self.float_layers))

    @classmethod
    def of(cls, method: str, config: dict[str, Any] | None = None, float_layers=(), strategy: str = DEFAULTS
           ) -> Recipe:
        return cls(method, tuple((config or {}).items()), tuple(float_layers), strategy)

    def config_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.config}

    def identity(self) -> dict[str, Any]:
        """What makes two recipes the same trial (the strategy that proposed it does not)."""
        return {"method": self.method, "config": self.config_dict(), "float_layers": list(self.float_layers)}

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()

    def label(self) -> str:
        """Short and readable: ``onnx-int8-static{per_channel=False}`` or ``dynamic-int8-3float``."""
        text = self.method
        if self.config:
            text += "{" + ",".join(f"{k}={_short(v)}" for k, v in self.config) + "}"
        if self.float_layers:
            text += f"+{len(self.float_layers)}float"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {**self.identity(), "strategy": self.strategy}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Recipe:
        return cls.of(d["method"], d.get("config") or {}, d.get("float_layers") or (), d.get("strategy", DEFAULTS))


def _hashable(v: Any) -> Any:
    return tuple(_hashable(x) for x in v) if isinstance(v, (list, tuple)) else v


def _short(v: Any) -> str:
    if isinstance(v, tuple):
        return "[" + ",".join(map(str, v)) + "]"
    return str(v)
