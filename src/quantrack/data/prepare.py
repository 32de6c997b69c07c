"""A Table -> a fixed stratified split, scaled with statistics of the training rows only."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from quantrack.data.table import PreparedData, Table
from quantrack.errors import QuantrackError


def fingerprint(table: Table) -> dict[str, Any]:
    """SHA-256 of the loaded table (features, labels, column names) and its shape.

    It hashes the values as loaded, not the file's bytes: the same table saved as CSV and as
    Parquet has one fingerprint (as long as CSV's text keeps its types: numbers stay numbers).
    NaN/inf are hashed as loaded, before any imputation; --impute is a run param of its own.
    The float32 values are hashed in row chunks, so no copy of the table is made for it.
    """
    from quantrack.data.preprocess import chunk_rows

    h = hashlib.sha256()
    X = table.features
    step = chunk_rows(X)
    for lo in range(0, len(X), step):  # bytes of consecutive C-ordered chunks = bytes of the whole
        h.update(np.ascontiguousarray(X[lo:lo + step], dtype=np.float32).tobytes())
    labels = table.labels
    for lo in range(0, len(labels), step):  # the labels joined by \x1f, a chunk of text at a time
        h.update(("\x1f" if lo else "").encode() + "\x1f".join(map(str, labels[lo:lo + step].tolist())).encode())
    h.update("\x1f".join(table.feature_names).encode())
    # Counted on the labels as they are, keyed by their text in text order (no array of strings per row).
    values, counts = np.unique(labels, return_counts=True)
    by_text: dict[str, int] = {}
    for v, c in zip(values.tolist(), counts.tolist()):
        by_text[str(v)] = by_text.get(str(v), 0) + c
    return {
        "sha256": h.hexdigest(),
        "source": table.source,
        "target": table.target,
        "rows": int(table.features.shape[0]),
        "columns": int(table.features.shape[1]),
        "class_counts": {v: by_text[v] for v in sorted(by_text)},
        "missing_values": dict(table.missing),
        "dropped_columns": list(table.dropped),
    }


def prepare(table: Table, test_size: float = 0.2, seed: int = 42, val_size: float = 0.0) -> PreparedData:
    """Stratified split fixed by the seed; StandardScaler fitted on the training rows only.

    The assignment scaled before splitting, which lets test-set statistics leak into training.
    ``val_size`` > 0 carves a validation split (that share of the training rows, stratified, seeded)
    out of the training rows, to choose the checkpoint on; the test rows are the same either way.
    """
    from quantrack.data.preprocess import Standardizer, stratified_split

    X, labels = table.features, table.labels
    classes, y = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise QuantrackError(f"the target needs at least two classes, found {len(classes)} ({', '.join(map(str, classes))})")
    counts = np.bincount(y)
    if counts.min() < 2:
        small = [str(classes[i]) for i in np.flatnonzero(counts < 2)]
        shown = ", ".join(map(repr, small[:8])) + (f" … and {len(small) - 8} more" if len(small) > 8 else "")
        raise QuantrackError(
            f"{'class' if len(small) == 1 else f'{len(small)} classes'} {shown} "
            f"{'has' if len(small) == 1 else 'have'} fewer than 2 rows; a stratified split needs at least 2 per class"
            + (" (is the label column right? --target names it)" if len(small) > len(classes) / 2 else "")
        )
    n_test = math.ceil(test_size * len(y))
    n_train = len(y) - n_test
    if n_test < len(classes) or n_train < len(classes):
        raise QuantrackError(
            f"too few rows for the split: {len(y)} rows give {n_train} train / {n_test} test, "
            f"but each side needs at least one row of each of the {len(classes)} classes"
        )
    # The split train_test_split(stratify=y, random_state=seed) gives, and StandardScaler's maths.
    # Memory: the table is float32 and each side is gathered once (X[idx] is the only copy); the
    # training rows are scaled in place, the test rows into one new array beside their raw copy,
    # which serving needs. Nothing returned refers to table.features, so the caller's table (and
    # the full matrix) is freed as soon as it lets go of it.
    train_idx, test_idx = stratified_split(y, test_size, seed)
    val_idx = train_idx[:0]
    if val_size > 0:
        n_val = math.ceil(val_size * n_train)
        if n_train - n_val < len(classes):
            raise QuantrackError(f"too few rows for a validation split: {n_train} training rows give "
                                 f"{n_train - n_val} train / {n_val} val, but training needs at least one row of "
                                 f"each of the {len(classes)} classes; lower --val-size or pass --checkpoint-on test")
        # The training rows' own stratified split, with the same seed: indices into train_idx.
        fit_pos, val_pos = stratified_split(y[train_idx], val_size, seed)
        train_idx, val_idx = train_idx[fit_pos], train_idx[val_pos]
    X = np.asarray(X, dtype=np.float32)  # no copy for a loaded Table; a float64 one built in code is cast once
    X_tr, X_va, X_te = X[train_idx], X[val_idx], X[test_idx]
    y_tr, y_va, y_te = y[train_idx], y[val_idx], y[test_idx]
    del X, y, train_idx, val_idx, test_idx  # only the split goes on
    fill = _impute(table, X_tr, X_va, X_te)
    scaler = Standardizer().fit(X_tr)
    X_test = scaler.transform(X_te)  # new array: X_te stays raw
    return PreparedData(
        X_val=scaler.transform(X_va, out=X_va) if len(X_va) else X_va,
        y_val=y_va.astype(np.int64, copy=False),
        name=table.name,
        X_train=scaler.transform(X_tr, out=X_tr),
        y_train=y_tr.astype(np.int64, copy=False),
        X_test=X_test,
        y_test=y_te.astype(np.int64, copy=False),
        X_test_raw=X_te,
        scaler_mean=scaler.mean_.astype(np.float32),
        scaler_scale=scaler.scale_.astype(np.float32),
        class_names=[str(c) for c in classes],
        feature_names=list(table.feature_names),
        image_shape=table.image_shape,
        fingerprint=fingerprint(table),
        impute_means=fill,
        label_kind="integer" if np.issubdtype(classes.dtype, np.integer) else "name",
    )


def _impute(table: Table, X_tr: np.ndarray, *others: np.ndarray) -> np.ndarray | None:
    """Fill NaN/inf, in place, with column means of the *training* rows, after the split.

    Means over all rows would carry test-set statistics into training, the same leak as fitting
    the scaler before splitting. A column with no finite training value gets 0 (as scikit-learn's
    SimpleImputer(strategy="mean", keep_empty_features=True) does), so the feature count never
    changes under the model's feet. Returns the fill values, or None when every value is finite.
    The means are summed in float64 over row chunks; no table-sized mask or float64 copy is made.
    """
    from quantrack.data.preprocess import chunk_rows

    step = chunk_rows(X_tr)
    if all(np.isfinite(a[lo:lo + step]).all() for a in (X_tr, *others) for lo in range(0, len(a), step)):
        return None
    if table.impute != "mean":
        raise QuantrackError(f"{table.name} has NaN or infinite feature values; pass --impute mean to fill them")
    total = np.zeros(X_tr.shape[1], dtype=np.float64)
    count = np.zeros(X_tr.shape[1], dtype=np.int64)
    for lo in range(0, len(X_tr), step):
        block = X_tr[lo:lo + step]
        finite = np.isfinite(block)
        total += np.where(finite, block, 0).sum(axis=0, dtype=np.float64)
        count += finite.sum(axis=0)
    means = np.divide(total, count, out=np.zeros_like(total), where=count > 0).astype(np.float32)
    for a in (X_tr, *others):
        for lo in range(0, len(a), step):
            block = a[lo:lo + step]  # a view: writing into it fills the split itself
            holes = ~np.isfinite(block)
            if holes.any():
                block[holes] = np.broadcast_to(means, block.shape)[holes]
    return means
