"""One scaling point on a synthetic table (rows x 64 float32, labels from a random linear teacher
over 10 classes), timed, with memory. Prints one JSON object.

Two ways, chosen by the model:

- ``logreg`` (the rows sweep): the real path. The table is first written to a Parquet file
  (float32 feature columns and an int64 label column) by this process; a fresh subprocess then
  does exactly what ``pipeline.run`` does before MLflow: ``prepare(load_table(path))`` (the
  loader's checks, the stratified split, the scaler), ``build_model``, ``train``. Its peak
  memory therefore includes pandas/pyarrow reading the file, the split and the scaled copies.
- ``mlp`` (the hidden-size sweep): ``training.train`` called directly on the float32 table,
  split 80/20 by slicing (views, no copy): it isolates the cost of the model's width.

Both use one torch thread. Memory is read from /proc/self/status of the measuring process: the
baseline is the resident set after imports and before the table exists; the peak is the
high-water mark (VmHWM) at the end (and, on the real path, also right after ``prepare``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_CLASSES = 10
_CHUNK = 65536  # rows generated (and written) at a time: the writer never holds two tables


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _chunks(rows: int, features: int):
    """The synthetic table, chunk by chunk, always the same for the same shape (seed 0)."""
    import numpy as np

    rng = np.random.default_rng(0)
    teacher = np.random.default_rng(1).standard_normal((features, N_CLASSES), dtype=np.float32)
    for lo in range(0, rows, _CHUNK):
        X = rng.standard_normal((min(_CHUNK, rows - lo), features), dtype=np.float32)
        yield X, (X @ teacher).argmax(1).astype(np.int64)


def write_parquet(path: Path, rows: int, features: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [f"f{j}" for j in range(features)] + ["label"]
    schema = pa.schema([(n, pa.float32()) for n in names[:-1]] + [("label", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for X, y in _chunks(rows, features):
            cols = [pa.array(np.ascontiguousarray(X[:, j])) for j in range(features)] + [pa.array(y)]
            writer.write_table(pa.Table.from_arrays(cols, schema=schema))


def measure_real_path(path: str, epochs: int, batch_size: int) -> dict:
    """pipeline.run's steps before MLflow, in this (fresh) process."""
    import pandas  # noqa: F401  (the loader's imports: loaded before the baseline, like torch)
    import pyarrow.parquet  # noqa: F401
    import torch

    import quantrack.data.files  # noqa: F401  (load_table imports it for a file)
    from quantrack.data.load import load_table
    from quantrack.data.prepare import prepare
    from quantrack.models import build_model, count_params
    from quantrack.training import train

    torch.set_num_threads(1)
    baseline_kb = _status_kb("VmRSS")
    start = time.perf_counter()
    data = prepare(load_table(path), test_size=0.2, seed=42)  # as pipeline.run: the Table is freed on return
    prepared_s = time.perf_counter() - start
    after_prepare_kb = _status_kb("VmHWM")
    torch.manual_seed(42)
    model = build_model("logreg", data.n_features, data.n_classes, (), data.image_shape)
    start = time.perf_counter()
    result = train(model, data.X_train, data.y_train, data.X_test, data.y_test, epochs=epochs, lr=0.01,
                   batch_size=batch_size, seed=42)
    seconds = time.perf_counter() - start
    rows = len(data.y_train) + len(data.y_test)
    return {
        "path": "real", "rows": rows, "features": data.n_features, "epochs": epochs, "model": "logreg",
        "hidden": None, "params": count_params(model), "load_prepare_seconds": prepared_s,
        "seconds": seconds, "seconds_per_epoch": seconds / epochs,
        "train_rows_per_s": len(data.y_train) * epochs / seconds, "table_bytes": rows * data.n_features * 4,
        "baseline_rss_bytes": baseline_kb * 1024, "peak_after_prepare_rss_bytes": after_prepare_kb * 1024,
        "peak_rss_bytes": _status_kb("VmHWM") * 1024, "final_test_loss": result.test_losses[-1],
    }


def measure_direct(rows: int, features: int, epochs: int, model_kind: str, hidden: tuple[int, ...],
                   batch_size: int) -> dict:
    """training.train on the table as made, split by slicing."""
    import numpy as np
    import torch

    from quantrack.models import build_model, count_params
    from quantrack.training import train

    torch.set_num_threads(1)
    baseline_kb = _status_kb("VmRSS")
    X = np.empty((rows, features), dtype=np.float32)
    y = np.empty(rows, dtype=np.int64)
    for lo, (xc, yc) in zip(range(0, rows, _CHUNK), _chunks(rows, features)):
        X[lo:lo + len(xc)], y[lo:lo + len(yc)] = xc, yc
    cut = int(rows * 0.8)
    torch.manual_seed(0)
    model = build_model(model_kind, features, N_CLASSES, hidden)
    start = time.perf_counter()
    result = train(model, X[:cut], y[:cut], X[cut:], y[cut:], epochs=epochs, lr=0.01, batch_size=batch_size, seed=0)
    seconds = time.perf_counter() - start
    return {
        "path": "direct", "rows": rows, "features": features, "epochs": epochs, "model": model_kind,
        "hidden": list(hidden) if model_kind == "mlp" else None, "params": count_params(model),
        "seconds": seconds, "seconds_per_epoch": seconds / epochs,
        "train_rows_per_s": cut * epochs / seconds, "table_bytes": X.nbytes,
        "baseline_rss_bytes": baseline_kb * 1024, "peak_rss_bytes": _status_kb("VmHWM") * 1024,
        "final_test_loss": result.test_losses[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--model", default="logreg", choices=("logreg", "mlp"))
    ap.add_argument("--hidden", default="1024,1024")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--measure-file", help=argparse.SUPPRESS)  # internal: the real path's measuring subprocess
    args = ap.parse_args()

    if args.measure_file:
        print(json.dumps(measure_real_path(args.measure_file, args.epochs, args.batch_size)))
    elif args.model == "mlp":
        hidden = tuple(int(h) for h in args.hidden.split(","))
        print(json.dumps(measure_direct(args.rows, args.features, args.epochs, "mlp", hidden, args.batch_size)))
    else:
        with tempfile.TemporaryDirectory(prefix="quantrack-scale-") as d:
            path = Path(d) / f"synthetic-{args.rows}x{args.features}.parquet"
            write_parquet(path, args.rows, args.features)
            # A fresh process: the writer's memory must not count in the measured peak.
            out = subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--epochs", str(args.epochs),
                                  "--batch-size", str(args.batch_size), "--measure-file", str(path)],
                                 check=False, capture_output=True, text=True, env=os.environ.copy())
            if out.returncode != 0:
                sys.stderr.write(out.stderr)
                raise SystemExit(out.returncode)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["file_bytes"] = path.stat().st_size
        print(json.dumps(result))


if __name__ == "__main__":
    main()
