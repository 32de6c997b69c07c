"""``quantrack compare MODEL.onnx --dataset FILE``: a user's ONNX graph, their labelled rows, every
ONNX Runtime method measured against the graph itself, tracked in MLflow like ``run`` (no training).

The rows go to the graph as they are in the file (unscaled, columns in file order): the graph is
the user's, so is its preprocessing. Every row is evaluated. Calibration rows come from
``--calibration FILE`` or, by default, a seeded sample of the evaluated rows, which flatters
static int8 a little: the report says which.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from quantrack.errors import QuantrackError
if TYPE_CHECKING:
    import numpy as np

    from quantrack.report.document import Report  # imported where used: a typo in an option is refused before numpy loads


def labels_as_indices(labels: np.ndarray, class_names: list[str] | None, source: str) -> np.ndarray:
    """The label column as the graph's output indices: integers are indices; names need ``class_names``
    (in the graph's output order)."""
    import numpy as np

    if class_names:
        index = {name: i for i, name in enumerate(class_names)}
        if len(index) != len(class_names):
            raise QuantrackError("--class-names lists a name twice")
        text = labels.astype(str)
        unknown = sorted(set(text.tolist()) - set(index))
        if unknown:
            raise QuantrackError(f"{source} has labels not in --class-names: {', '.join(map(repr, unknown[:8]))}")
        return np.asarray([index[t] for t in text], dtype=np.int64)
    if not np.issubdtype(labels.dtype, np.integer):
        raise QuantrackError(f"{source} labels are names ({labels[0]!r}, ...); pass --class-names a,b,c in the order "
                             "of the model's outputs")
    if labels.min() < 0:
        raise QuantrackError(f"{source} labels must be output indices from 0, found {labels.min()}")
    return labels.astype(np.int64)


def calibration_rows(features: np.ndarray, calibration: str | None, target: str | None, n_rows: int, seed: int,
                     ) -> tuple[np.ndarray, str]:
    """The calibration inputs and a sentence saying where they come from."""
    import numpy as np

    if calibration is not None:
        from quantrack.data.files import load_file

        table = load_file(calibration, target=target)  # same layout as --dataset; its labels are not used
        if table.features.shape[1] != features.shape[1]:
            raise QuantrackError(f"--calibration {calibration} has {table.features.shape[1]} feature columns but "
                                 f"--dataset has {features.shape[1]}")
        return table.features, f"{len(table.features)} rows of {calibration} (--calibration)"
    if n_rows < 1:
        raise QuantrackError(f"--calibration-rows must be at least 1, got {n_rows}")
    n = min(n_rows, len(features))
    pick = np.sort(np.random.default_rng(seed).choice(len(features), size=n, replace=False))
    return features[pick], (f"a sample of {n} of the evaluated rows (seed {seed}; calibrating on evaluated rows "
                            "flatters static int8 a little; pass --calibration FILE to avoid it)")


def check_options(model_path: str, dataset: str, methods: str, max_drop: float | None, prefer: str | None, threads: int,
                  n_calibration: int, calibration: str | None) -> list[str]:
    """Every option a user types, checked before onnx, torch or MLflow is imported: a typo is refused
    in well under a second (the imports take several). Returns the chosen method names."""
    import math

    from quantrack.evaluate.onnx_model import is_onnx_path
    from quantrack.methods import BASELINE, METHOD_NAMES  # names only: no torch

    if not is_onnx_path(model_path):
        raise QuantrackError(f"quantrack compare takes an .onnx file, got {model_path}")
    chosen = [m.strip() for m in methods.split(",") if m.strip()] or ["all"]
    unknown = [m for m in chosen if m != "all" and m != BASELINE and m not in METHOD_NAMES]
    if unknown:
        raise QuantrackError(f"--methods: unknown method {', '.join(map(repr, unknown))}; choose from all, "
                             f"{', '.join(METHOD_NAMES)}")
    if max_drop is not None and not (math.isfinite(max_drop) and 0 <= max_drop < 1):  # None: a Budget is given
        raise QuantrackError(f"--max-accuracy-drop must be in [0, 100) points, got {100 * max_drop:g}")
    if prefer is not None and prefer not in ("size", "latency"):
        raise QuantrackError(f"--prefer must be size or latency, got {prefer!r}")
    if threads < 1:
        raise QuantrackError(f"--threads must be at least 1, got {threads}")
    if calibration is None and n_calibration < 1:
        raise QuantrackError(f"--calibration-rows must be at least 1, got {n_calibration}")
    for label, path in (("MODEL.onnx", model_path), ("--dataset", dataset), ("--calibration", calibration)):
        if path is not None and not Path(path).is_file():
            raise QuantrackError(f"{label} {path} does not exist" if not Path(path).exists()
                                 else f"{label} {path} is not a file")
    return chosen


def run(model_path: str, dataset: str, *, target: str | None = None, class_names: list[str] | None = None,
        calibration: str | None = None, n_calibration: int = 256, methods: str = "all", max_drop: float | None = None,
        prefer: str | None = None, budget=None, threads: int = 1, out: str = "runs", tracking_uri: str | None = None,
        experiment: str = "quantrack", seed: int = 0, latency_budget_s: float = 0.3, progress=None) -> Report:
    chosen = check_options(model_path, dataset, methods, max_drop, prefer, threads, n_calibration, calibration)
    from quantrack.data.files import load_file
    from quantrack.evaluate.compare import compare
    from quantrack.evaluate.onnx_model import open_onnx

    graph = open_onnx(model_path)  # a bad file fails here, before the data is read
    if graph.n_inputs != 1:
        raise QuantrackError(f"{Path(model_path).name} takes {graph.n_inputs} inputs; a CSV/Parquet file feeds "
                             "one (use quantrack.compare() from Python for several)")
    table = load_file(dataset, target=target)
    from quantrack.tracking.tracker import Tracker

    Tracker(tracking_uri, experiment).check()  # a missing server or wrong password: now, not after the measuring
    y = labels_as_indices(table.labels, class_names, dataset)
    calib, calib_source = calibration_rows(table.features, calibration, target, n_calibration, seed)
    from quantrack.core.names import folder_name

    # a long model file name is shortened to fit one path component; report.json keeps the path
    folder = Path(out) / folder_name(f"{time.strftime('%Y%m%d-%H%M%S')}-", Path(model_path).stem, "-compare")
    return compare(graph, calibration=calib, eval_data=(table.features, y), methods=chosen,
                   max_drop=max_drop, prefer=prefer, budget=budget, threads=threads, out=folder,
                   tracking=tracking_uri or True, experiment=experiment, seed=seed,
                   latency_budget_s=latency_budget_s, progress=progress,
                   notes={"onnx_model": str(Path(model_path).resolve()), "dataset": str(Path(dataset).resolve()),
                          "calibration_source": calib_source})
