"""The base of every method's typed config (torchao's habit: one small frozen dataclass per method).

Each knob is a field with its default and, in ``metadata={"why": ...}``, a one-line reason a
knowledgeable engineer would give for that default. Configs are plain data: they import no
toolchain, so the CLI can validate a recipe before torch is imported, report.json can record it, and
a search can enumerate them.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from quantrack.errors import QuantrackError


@dataclass(frozen=True)
class MethodConfig:
    """Subclass with ``@dataclass(frozen=True)``; validate in ``__post_init__`` (raise QuantrackError)."""

    # Knobs a recipe search may vary, with their candidate values (name -> tuple); empty: none.
    SEARCH_SPACE: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples become lists, enums their values."""
        def plain(v: Any) -> Any:
            if isinstance(v, enum.Enum):
                return v.value
            if isinstance(v, (tuple, list)):
                return [plain(x) for x in v]
            return v

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, method: str = "") -> MethodConfig:
        """Build from plain values (TOML, JSON): unknown keys are an error naming the known ones."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = [k for k in values if k not in known]
        who = f"{method}: " if method else ""
        if unknown:
            raise QuantrackError(f"{who}unknown config key {unknown[0]!r}; known: {', '.join(known) or 'none'}")
        hints = typing.get_type_hints(cls)
        coerced = {k: tuple(v) if isinstance(v, list) and _is_tuple(hints.get(k)) else v for k, v in values.items()}
        try:
            return cls(**coerced)
        except TypeError as e:
            raise QuantrackError(f"{who}{e}") from None

    def _positive_ints(self, *names: str) -> None:
        """For ``__post_init__``: each named field a positive integer (bools refused), else one clear error."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise QuantrackError(f"{type(self).__name__}.{name} must be a positive integer, got {value!r}")

    def _one_of(self, name: str, choices: tuple[Any, ...]) -> None:
        value = getattr(self, name)
        if value not in choices:
            raise QuantrackError(f"{type(self).__name__}.{name} must be one of {', '.join(map(repr, choices))}, "
                                 f"got {value!r}")

    @classmethod
    def knobs(cls) -> list[tuple[str, Any, str]]:
        """(name, default, why) for every field: what ``--help`` and the README list."""
        out = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore[misc]
            out.append((f.name, default, f.metadata.get("why", "")))
        return out


@dataclass(frozen=True)
class NoConfig(MethodConfig):
    """A method without knobs (fp32, fp16, bf16)."""


def knob(default: Any, why: str) -> Any:
    """A config field with its default and the reason for it."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple (configs are frozen)")
    return dataclasses.field(default=default, metadata={"why": why})


def _is_tuple(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is tuple:
        return True
    return any(typing.get_origin(a) is tuple or a is tuple for a in typing.get_args(hint))
