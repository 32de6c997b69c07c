"""The Pareto front: the points no other point beats on every objective at once."""

from __future__ import annotations

from collections.abc import Sequence

MAX, MIN = "max", "min"


def dominates(a: Sequence[float], b: Sequence[float], senses: Sequence[str]) -> bool:
    """``a`` is at least as good as ``b`` on every objective and strictly better on one."""
    better = False
    for x, y, sense in zip(a, b, senses, strict=True):
        if sense == MIN:
            x, y = -x, -y
        if x < y:
            return False
        if x > y:
            better = True
    return better


def pareto_front(points: Sequence[Sequence[float]], senses: Sequence[str]) -> list[int]:
    """Indices of the non-dominated points, in input order. Equal points are all kept.

    O(n²) comparisons: a sweep has tens to hundreds of candidates, not millions.
    """
    if any(s not in (MAX, MIN) for s in senses):
        raise ValueError(f"senses must be {MAX!r} or {MIN!r}, got {list(senses)}")
    return [i for i, p in enumerate(points)
            if not any(dominates(q, p, senses) for j, q in enumerate(points) if j != i)]
