"""What ``compare`` is given to evaluate on: model inputs (one array per forward argument) and,
optionally, integer class labels. Arrays or tensors in, numpy out; checked once, up front.

A plain numpy value (no torch import: tensors are converted through their own ``.numpy()``), so
methods (the mixed-precision search scores on it), evaluate and the report share it from the leaf.

A tuple holds the model's inputs in ``forward``'s order, optionally followed by the labels:
for ``forward(x)``, ``(X, y)`` is inputs and labels; for ``forward(input_ids, attention_mask)``,
``(ids, mask)`` is inputs only and ``(ids, mask, y)`` inputs and labels. A model whose forward
has no required argument (``**kwargs``, all defaults) is read the other way round: the last
entry is the labels exactly when no ``metric`` is given (accuracy needs labels).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from quantrack.errors import QuantrackError

Inputs = tuple[np.ndarray, ...]  # one array per model input, rows on axis 0


@dataclass(frozen=True)
class EvalSet:
    """Model inputs (rows on axis 0, all of one length) and optional integer labels."""

    inputs: Inputs
    labels: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.inputs[0])

    def take(self, index: slice | np.ndarray) -> EvalSet:
        return EvalSet(tuple(a[index] for a in self.inputs), None if self.labels is None else self.labels[index])


def required_inputs(model: Any) -> int:
    """How many positional arguments ``model.forward`` requires (0 when it cannot tell)."""
    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError, AttributeError):
        return 0
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty)


def to_numpy(value: Any, what: str) -> np.ndarray:
    """A numpy array from an array, a tensor or a nested list; a clear error for anything else."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except Exception as e:  # ragged lists, objects numpy cannot take
        raise QuantrackError(f"{what} is not an array: {type(e).__name__}") from None
    if arr.dtype == object or arr.ndim == 0:
        raise QuantrackError(f"{what} must be an array with rows on axis 0, got {type(value).__name__}")
    if len(arr) == 0:
        raise QuantrackError(f"{what} has no rows")
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)  # torch models compute in float32; numpy's default is float64
    return arr


def parse(data: Any, *, n_required: int, labels_expected: bool | None, what: str) -> EvalSet:
    """``data`` as an EvalSet. ``labels_expected``: True/False, or None when labels are optional
    and can only be told apart by count (see the module docstring)."""
    items = list(data) if isinstance(data, (tuple, list)) and not _is_numeric_list(data) else [data]
    if len(items) == 1:
        inputs, labels = items, None
    elif n_required and len(items) == n_required + 1:
        inputs, labels = items[:-1], items[-1]
    elif n_required and len(items) == n_required:
        inputs, labels = items, None
    elif n_required:
        raise QuantrackError(f"{what} holds {len(items)} arrays, but the model's forward takes {n_required} "
                             f"input(s): give the inputs, optionally followed by the labels")
    elif labels_expected is False:
        inputs, labels = items, None
    else:
        inputs, labels = items[:-1], items[-1]
    arrays = tuple(to_numpy(a, f"{what} input {i}" if len(inputs) > 1 else f"{what} inputs")
                   for i, a in enumerate(inputs))
    rows = {len(a) for a in arrays}
    if len(rows) != 1:
        raise QuantrackError(f"{what}: the inputs have different row counts ({', '.join(str(len(a)) for a in arrays)})")
    label_array = None
    if labels is not None:
        label_array = to_numpy(labels, f"{what} labels")
        if label_array.ndim != 1 or not np.issubdtype(label_array.dtype, np.integer):
            raise QuantrackError(f"{what} labels must be one integer class index per row, got an array of "
                                 f"{label_array.dtype} with shape {label_array.shape}")
        if len(label_array) != len(arrays[0]):
            raise QuantrackError(f"{what}: {len(arrays[0])} rows of inputs but {len(label_array)} labels")
        if label_array.min() < 0:
            raise QuantrackError(f"{what} labels must be class indices from 0, found {label_array.min()}")
        label_array = label_array.astype(np.int64, copy=False)
    if labels_expected and label_array is None:
        raise QuantrackError(f"{what} needs labels to score accuracy: pass (inputs, labels), or a metric=")
    return EvalSet(arrays, label_array)


def _is_numeric_list(data: Any) -> bool:
    """A plain list of numbers or of rows (one input given as a list), not a list of arrays."""
    return isinstance(data, list) and bool(data) and isinstance(data[0], (int, float, list))
