"""One scaling point: quantrack.training.train on a synthetic float32 table, timed, with memory.

Not through the pipeline: the table is generated directly as float32 (rows x 64, labels
from a random linear teacher over 10 classes), split 80/20 by slicing (views, no copy),
and handed to ``training.train`` with one torch thread. Memory is read from
/proc/self/status: the baseline is the resident set after imports and before the table
exists; the peak is the high-water mark (VmHWM) after training. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--model", default="logreg", choices=("logreg", "mlp"))
    ap.add_argument("--hidden", default="1024,1024")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    import numpy as np
    import torch

    from quantrack.models import build_model, count_params
    from quantrack.training import train

    torch.set_num_threads(1)
    baseline_kb = _status_kb("VmRSS")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, args.features), dtype=np.float32)
    teacher = rng.standard_normal((args.features, 10), dtype=np.float32)
    y = np.empty(args.rows, dtype=np.int64)
    for lo in range(0, args.rows, 65536):  # labels in chunks: no second table-sized temporary
        y[lo:lo + 65536] = (X[lo:lo + 65536] @ teacher).argmax(1)
    cut = int(args.rows * 0.8)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    torch.manual_seed(0)
    model = build_model(args.model, args.features, 10, hidden)
    start = time.perf_counter()
    result = train(model, X[:cut], y[:cut], X[cut:], y[cut:], epochs=args.epochs, lr=0.01,
                   batch_size=args.batch_size, seed=0)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "rows": args.rows, "features": args.features, "epochs": args.epochs, "model": args.model,
        "hidden": list(hidden) if args.model == "mlp" else None, "params": count_params(model),
        "seconds": seconds, "seconds_per_epoch": seconds / args.epochs,
        "train_rows_per_s": cut * args.epochs / seconds, "table_bytes": X.nbytes,
        "baseline_rss_bytes": baseline_kb * 1024, "peak_rss_bytes": _status_kb("VmHWM") * 1024,
        "final_test_loss": result.test_losses[-1],
    }))


if __name__ == "__main__":
    main()
