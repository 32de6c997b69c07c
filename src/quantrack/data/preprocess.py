"""scikit-learn's stratified split and StandardScaler, in numpy, without importing sklearn.

Importing scikit-learn costs ~2 s here (its package import pulls in scipy.stats and
pandas), the largest single import of a default run. These are the two pieces of it the
default run needs; they follow scikit-learn's algorithms step for step and draw from the
same ``RandomState`` in the same order, so the split is the one ``train_test_split(...,
stratify=y, random_state=seed)`` gives (tests/test_preprocess.py checks both against
scikit-learn itself).
"""

from __future__ import annotations

import math

import numpy as np


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """sklearn.utils.extmath._approximate_mode: per-class draws, ties broken at random."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        values = np.sort(np.unique(remainder))[::-1]
        for value in values:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def stratified_split(y: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices, as StratifiedShuffleSplit(n_splits=1) yields them.

    ``y`` holds class indices; the caller has checked every class has two rows or more.
    """
    n = len(y)
    n_test = math.ceil(test_size * n)
    n_train = n - n_test
    _, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    rng = np.random.RandomState(seed)
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train, test = [], []
    for i in range(len(class_counts)):
        perm = class_indices[i].take(rng.permutation(class_counts[i]), mode="clip")
        train.append(perm[:n_i[i]])
        test.append(perm[n_i[i]:n_i[i] + t_i[i]])
    # Arrays, not lists of Python ints (scikit-learn's way): ~40 bytes a row less, the same draws.
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


_CHUNK_ROWS = 65536  # at most this many rows per pass over a table ...
_CHUNK_VALUES = 1 << 18  # ... and at most this many values: a float64 temporary stays 2 MB whatever the width


def chunk_rows(X: np.ndarray) -> int:
    """Rows per pass when walking a table chunk by chunk (so no temporary is table-sized)."""
    width = X.shape[1] if X.ndim > 1 else 1
    return max(1, min(_CHUNK_ROWS, _CHUNK_VALUES // max(1, width)))


class Standardizer:
    """StandardScaler's fit/transform: population standard deviation, constant columns scaled by 1.

    The data may be float32 (the pipeline's tables are): statistics are accumulated in float64 and
    each row chunk is scaled in float64 and rounded once on the way back, so a float32 table gives
    what StandardScaler gives on the same values in float64, rounded to float32, without ever
    holding a float64 copy (or any table-sized temporary) of it.
    """

    def fit(self, X: np.ndarray) -> Standardizer:
        X = np.asarray(X)
        n = X.shape[0]
        self.mean_ = X.sum(axis=0, dtype=np.float64) / n  # numpy casts chunk by chunk: no float64 copy
        # Two-pass variance with the same correction term scikit-learn applies.
        correction = np.zeros(X.shape[1], dtype=np.float64)
        squares = np.zeros(X.shape[1], dtype=np.float64)
        step = chunk_rows(X)
        for lo in range(0, n, step):
            centred = X[lo:lo + step].astype(np.float64)
            centred -= self.mean_  # in place: one 2 MB temporary per chunk
            correction += centred.sum(axis=0)
            centred *= centred
            squares += centred.sum(axis=0)
        var = (squares - correction ** 2 / n) / n
        # scikit-learn treats a column as constant when its variance is below the
        # error bound of its estimate, and leaves such columns unscaled.
        eps = np.finfo(np.float64).eps
        upper_bound = n * eps * var + (n * self.mean_ * eps) ** 2
        constant = var <= upper_bound
        scale = np.sqrt(var)
        scale[constant] = 1.0
        self.scale_ = scale
        return self

    def transform(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """(X - mean) / scale, in X's float dtype (float32 stays float32); ``out=X`` scales in place."""
        X = np.asarray(X)
        if out is None:
            out = np.empty(X.shape, dtype=X.dtype if X.dtype.kind == "f" else np.float64)
        step = chunk_rows(X)
        for lo in range(0, X.shape[0], step):
            chunk = X[lo:lo + step].astype(np.float64)
            chunk -= self.mean_
            chunk /= self.scale_
            out[lo:lo + step] = chunk
        return out


def load_digits_csv() -> tuple[np.ndarray, np.ndarray]:
    """The digits table from the file scikit-learn ships, found without importing sklearn."""
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")  # locates the package; runs none of its code
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("scikit-learn is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",")
    return data[:, :-1], data[:, -1].astype(int)
