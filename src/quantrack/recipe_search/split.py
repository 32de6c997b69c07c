"""The evaluation rows cut in two: *selection* rows, on which every trial is scored and the champion
chosen, and *held-out* rows, on which only the final candidates are judged.

Choosing among many recipes on the rows that then score the winner flatters it (the winner's
luck on those rows is part of why it won). The held-out rows never influence which recipes are
tried or ranked, so the interval the champion is judged by on them means what it says.
Seeded, and stratified when there are labels: each class is cut in the same proportion, so a
small evaluation set does not put a whole class on one side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quantrack.errors import QuantrackError

DEFAULT_HELD_OUT = 0.5  # half the rows judge: the champion's held-out interval is then as tight as the selection's


@dataclass(frozen=True)
class Split:
    selection: np.ndarray  # row indices into the evaluation set, sorted
    held_out: np.ndarray

    def to_dict(self) -> dict[str, int]:
        return {"selection_rows": int(len(self.selection)), "held_out_rows": int(len(self.held_out))}


def split_rows(rows: int, labels: np.ndarray | None = None, *, held_out: float = DEFAULT_HELD_OUT,
               seed: int = 0) -> Split:
    """Disjoint, together every row. With labels, each class contributes ``held_out`` of its rows
    (rounded; a class of one row goes to selection) and both sides get at least one row."""
    if isinstance(held_out, bool) or not isinstance(held_out, (int, float)) or not 0 < held_out < 1:
        raise QuantrackError(f"held_out (--held-out) must be a fraction between 0 and 1 (e.g. 0.5), got {held_out!r}")
    if rows < 2:
        raise QuantrackError(f"a search needs at least 2 evaluation rows (some choose, some judge), got {rows}")
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(rows)
        n = min(rows - 1, max(1, int(round(rows * held_out))))
        return _split(order[n:], order[:n])
    labels = np.asarray(labels)
    if len(labels) != rows:
        raise ValueError(f"{len(labels)} labels for {rows} rows")
    held, chosen = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = int(round(len(idx) * held_out)) if len(idx) > 1 else 0
        held.append(idx[:n])
        chosen.append(idx[n:])
    held_idx, sel_idx = np.concatenate(held), np.concatenate(chosen)
    if len(held_idx) == 0:  # every class had one row: move one row over
        held_idx, sel_idx = sel_idx[:1], sel_idx[1:]
    elif len(sel_idx) == 0:
        sel_idx, held_idx = held_idx[:1], held_idx[1:]
    return _split(sel_idx, held_idx)


def _split(selection: np.ndarray, held_out: np.ndarray) -> Split:
    return Split(np.sort(selection.astype(np.int64)), np.sort(held_out.astype(np.int64)))
