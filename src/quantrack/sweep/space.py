"""What a sweep explores: each option of ``run`` with one or several values, expanded to trials.

A value list comes from the command line (``--lr 0.01,0.05`` or ``--lr 0.01 --lr 0.05``) or
from a ``[sweep]`` table of the TOML config (``lr = [0.01, 0.05]``). ``--hidden`` and
``--methods`` hold commas *inside* one value (``--hidden 64,64``), so for them only repetition
(or a TOML list) gives several values.

Every value is checked here, by building the RunConfig it would give, so a bad value is one
line and exit 2 before Ray or MLflow start.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Any

from quantrack.config import build_config
from quantrack.errors import QuantrackError

# Options a sweep may vary. The others (dataset, budget, prefer, where to track...) define the
# sweep itself: one answer per sweep needs one dataset, one budget and one registered model.
SWEEPABLE = ("model", "hidden", "epochs", "lr", "batch_size", "seed", "methods", "threads", "impute")
# Their values contain commas, so commas do not separate values.
COMMA_INSIDE = ("hidden", "methods")
SEARCHES = ("grid", "random", "optuna")
# Sweep settings a [sweep] table may hold besides option values.
SETTINGS = ("samples", "search", "max_concurrent", "ray_address")


@dataclass(frozen=True)
class Space:
    """Option name -> its values (as the user wrote them, one label each), in option order."""

    values: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def varying(self) -> dict[str, tuple[str, ...]]:
        return {k: v for k, v in self.values.items() if len(v) > 1}

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.values.values()) if self.values else 1


def split_values(name: str, raw: list[Any] | tuple[Any, ...] | str | int | float | None) -> tuple[str, ...]:
    """One option's values as labels: repeated flags and list items are values; commas too, except
    inside --hidden and --methods values. Duplicates are dropped, first occurrence kept."""
    if raw is None:
        return ()
    items = list(raw) if isinstance(raw, (list, tuple)) else [raw]
    out: list[str] = []
    for item in items:
        if isinstance(item, (list, tuple)):  # TOML: hidden = [[64, 64], [256]]
            parts = [",".join(str(x) for x in item)]
        elif name in COMMA_INSIDE:
            parts = [str(item)]
        else:
            parts = str(item).split(",")
        for p in parts:
            p = p.strip().replace(" ", "") if name in COMMA_INSIDE else p.strip()
            if not p:
                raise QuantrackError(f"--{name.replace('_', '-')} has an empty value in {item!r}")
            if p not in out:
                out.append(p)
    return tuple(out)


def build_space(base: dict[str, Any], multi: dict[str, Any]) -> Space:
    """``multi`` holds the sweepable options with one or more values each (None = not given).

    Each value is validated by building the RunConfig it would make on top of ``base``.
    """
    values: dict[str, tuple[str, ...]] = {}
    for name in SWEEPABLE:
        labels = split_values(name, multi.get(name))
        if not labels:
            continue
        for label in labels:
            build_config(base, **{name: label})  # raises QuantrackError with the option's own message
        values[name] = labels
    return Space(values)


def grid(space: Space) -> list[dict[str, str]]:
    """Every combination, in a stable order (the last option varies fastest)."""
    names = list(space.values)
    return [dict(zip(names, combo)) for combo in itertools.product(*(space.values[n] for n in names))]


def random_samples(space: Space, n: int, seed: int = 0) -> list[dict[str, str]]:
    """``n`` distinct combinations drawn at random (all of them, shuffled, if ``n`` >= the grid)."""
    if n < 1:
        raise QuantrackError(f"--samples must be a positive integer, got {n}")
    rng = random.Random(seed)
    total = space.size
    # Draw indices into the grid without building it: a 10^9-point grid must not cost memory.
    picks = rng.sample(range(total), min(n, total))
    names = list(space.values)
    sizes = [len(space.values[k]) for k in names]
    out = []
    for index in picks:
        combo = {}
        for name, size in zip(reversed(names), reversed(sizes)):
            index, i = divmod(index, size)
            combo[name] = space.values[name][i]
        out.append({k: combo[k] for k in names})
    return out


def check_settings(search: str, samples: int | None, max_concurrent: int | None) -> None:
    if search not in SEARCHES:
        raise QuantrackError(f"--search must be one of {', '.join(SEARCHES)}, got {search!r}")
    if samples is not None and samples < 1:
        raise QuantrackError(f"--samples must be a positive integer, got {samples}")
    if max_concurrent is not None and max_concurrent < 1:
        raise QuantrackError(f"--max-concurrent must be a positive integer, got {max_concurrent}")


def split_sweep_table(table: dict[str, Any], source: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A TOML [sweep] table -> (option values, settings); keys are long option names."""
    from quantrack.config import RunConfig

    option_names = set(RunConfig.__dataclass_fields__)
    options: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name in SETTINGS:
            settings[name] = value
        elif name in SWEEPABLE:
            options[name] = value
        elif name in option_names:
            if isinstance(value, list):
                raise QuantrackError(f"config file {source}: [sweep] {key} takes one value in a sweep, got a list")
            options[name] = value
        else:
            raise QuantrackError(f"config file {source}: unknown key {key!r} in [sweep]")
    return options, settings
