"""What the search can try, as recipes: each method's knob combinations (its config class's
``SEARCH_SPACE``) and, for the methods with a per-layer table, which layers to keep in float.

Knob combinations come nearest-first: every single-knob change from the defaults, then pairs, and
so on (a method's defaults are a knowledgeable engineer's choice; small departures from them are
the likeliest improvements). Combinations the config class refuses (its ``__post_init__``) are not
recipes and are counted, not tried. Spaces too large to enumerate keep changes of at most two knobs.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Sequence
from typing import Any

from quantrack.errors import QuantrackError
from quantrack.recipe_search.recipe import FALLBACK, KNOBS, Recipe

MAX_COMBINATIONS = 4096  # beyond this a full product is not enumerated: changes of <= 2 knobs only
_FAR = 2


def defaults_of(config_cls) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            out[f.name] = f.default_factory()  # type: ignore[misc]
    return out


def knob_recipes(method: str, config_cls) -> tuple[list[Recipe], int]:
    """Recipes for every valid knob combination but the defaults, nearest first; and how many
    combinations the config class refused."""
    space = dict(getattr(config_cls, "SEARCH_SPACE", {}) or {})
    if not space:
        return [], 0
    defaults = defaults_of(config_cls)
    unknown = [k for k in space if k not in defaults]
    if unknown:
        raise QuantrackError(f"{method}: SEARCH_SPACE names {unknown[0]!r}, which is not a knob of "
                             f"{config_cls.__name__}")
    names = list(space)
    # Each knob's alternatives: its candidates other than the default, in the order listed.
    options = {k: [v for v in space[k] if not _same(v, defaults[k])] for k in names}
    total = 1
    for k in names:
        total *= len(options[k]) + 1
    combos: list[dict[str, Any]] = []
    far = len(names) if total <= MAX_COMBINATIONS else _FAR
    for n in range(1, far + 1):
        for chosen in itertools.combinations(names, n):
            for values in itertools.product(*(options[k] for k in chosen)):
                combos.append(dict(zip(chosen, values, strict=True)))
    recipes, refused = [], 0
    for changes in combos:
        try:
            config_cls.from_dict(changes, method=method)
        except (QuantrackError, TypeError, ValueError):
            refused += 1
            continue
        recipes.append(Recipe.of(method, changes, strategy=KNOBS))
    return recipes, refused


def _same(a: Any, b: Any) -> bool:
    norm = (lambda v: tuple(v) if isinstance(v, list) else v)
    return norm(a) == norm(b)


def layer_groups(ranked: Sequence[str]) -> list[list[str]]:
    """Layers of one kind across blocks (``encoder.layer.3.output.dense`` -> ``encoder.layer.*.output.dense``),
    as NNCF's accuracy control reverts quantizers in groups; ranked by their most sensitive member."""
    groups: dict[str, list[str]] = {}
    for name in ranked:  # most sensitive first, so a group's position is that of its worst layer
        groups.setdefault(re.sub(r"(^|\.)\d+(\.|$)", r"\1*\2", name), []).append(name)
    return list(groups.values())


def group_candidates(method: str, ranked: Sequence[str]) -> list[Recipe]:
    """Float sets of the top 1, 2, ... groups (each a strict subset of all layers), when grouping
    is coarser than single layers."""
    groups = layer_groups(ranked)
    if len(groups) < 2 or len(groups) == len(ranked):
        return []
    out, kept = [], []
    for g in groups[:-1]:
        kept = kept + g
        if len(kept) >= len(ranked):
            break
        out.append(Recipe.of(method, float_layers=kept, strategy=FALLBACK))
    return out


def next_single_count(n_layers: int, passed: Sequence[int], failed: Sequence[int], busy: Sequence[int]) -> int | None:
    """How many of the top-ranked layers to keep in float next: 1, 2, 4, ... (and every layer but
    one) until a count fits the budget, then bisection between the largest count that did not and
    the smallest that did. A count below one that failed is skipped (the float sets are nested, so
    it keeps fewer of the layers that cost the most). None: nothing to try now."""
    done = set(passed) | set(failed) | set(busy)
    if passed:
        hi = min(passed)
        lo = max([k for k in failed if k < hi], default=0)
        mid = (lo + hi) // 2
        return mid if hi - lo > 1 and mid not in done else None
    counts = sorted({*(2 ** i for i in range(n_layers.bit_length()) if 2 ** i < n_layers), n_layers - 1} - {0})
    worst = max(failed, default=0)
    return next((k for k in counts if k not in done and k > worst), None)
