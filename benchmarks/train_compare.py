"""Training only, side by side in one process: the assignment's loop against quantrack's.

Both train the default logistic regression on quantrack's digits split, seed by seed,
alternating which goes first, with one torch thread, each logging train and test loss
per epoch to its own fresh SQLite MLflow store whose tables are created before the
clock starts. Timed: the 100 epochs plus getting the metrics into MLflow (the assignment:
two ``mlflow.log_metric`` calls per epoch inside the loop; quantrack: buffered, then one
``log_batch``). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import assignment_style  # noqa: E402

from quantrack.data.load import load_table  # noqa: E402
from quantrack.data.prepare import prepare
from quantrack.models import build_model  # noqa: E402
from quantrack.tracking.tracker import Tracker  # noqa: E402
from quantrack.training import train  # noqa: E402


def _accuracy(model, X, y) -> float:
    with torch.no_grad():
        return float((model(torch.from_numpy(X)).argmax(1).numpy() == y).mean() * 100)


def run_assignment(data, seed: int, epochs: int, tmp: Path) -> dict:
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp / f'a{seed}.db'}")
    mlflow.set_experiment("assignment")  # creates the tables: outside the clock
    torch.manual_seed(seed)
    model = assignment_style.LogisticRegression(data.n_features, data.n_classes)
    X, y, Xt, yt = map(torch.from_numpy, (data.X_train, data.y_train, data.X_test, data.y_test))
    with mlflow.start_run():
        seconds, best = assignment_style.train_loop(model, X, y, Xt, yt, epochs=epochs,
                                                    checkpoint=str(tmp / f"a{seed}.pth"))
    return {"seconds": seconds, "best_epoch": best, "accuracy": _accuracy(model, data.X_test, data.y_test)}


def run_quantrack(data, seed: int, epochs: int, tmp: Path) -> dict:
    tracker = Tracker(f"sqlite:///{tmp / f'q{seed}.db'}", "quantrack")  # creates the tables: outside the clock
    tracker.start(None, {"seed": seed})
    torch.manual_seed(seed)
    model = build_model("logreg", data.n_features, data.n_classes)
    start = time.perf_counter()
    result = train(model, data.X_train, data.y_train, data.X_test, data.y_test, epochs=epochs, lr=0.01,
                   batch_size=32, seed=seed,
                   on_epoch=lambda e, tr, te: tracker.log_metrics({"train_loss": tr, "test_loss": te}, step=e))
    tracker.flush()
    seconds = time.perf_counter() - start
    tracker.end()
    return {"seconds": seconds, "loop_seconds": result.seconds, "best_epoch": result.best_epoch,
            "accuracy": _accuracy(model, data.X_test, data.y_test)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            data = prepare(load_table("digits"), seed=seed)
            order = (run_assignment, run_quantrack) if seed % 2 == 0 else (run_quantrack, run_assignment)
            out = {}
            for fn in order:
                out[fn.__name__.removeprefix("run_")] = fn(data, seed, args.epochs, Path(tmp))
            rows.append({"seed": seed, **out})
    print(json.dumps({"threads": torch.get_num_threads(), "epochs": args.epochs, "rows": rows}))


if __name__ == "__main__":
    main()
