"""`quantrack sweep` with 2 workers against the same runs one after another.

Eight configurations (`--methods dynamic-int8`, default data and epochs, seeds 0..7):

* sequential: eight `quantrack run` commands, one after another (subprocesses, as a user types them);
* sweep: one `quantrack sweep --seed 0,...,7 --max-concurrent 2` (a subprocess too: Ray's start,
  the parent run and the report are all inside the measured time).

Both track into their own fresh SQLite store and register their variants. From the sweep's
sweep.json: each Ray worker's peak RSS, the time inside each trial, and so Ray's overhead per
trial; the fp32 p50 each trial measured inside the sweep (under the node's timing gate, while
the other worker trains) against the p50 the same configuration measured alone in the sequential
run. Writes benchmarks/results/sweep.md (a section BENCHMARKS.md includes) and prints the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEEDS = list(range(8))
HERE = Path(__file__).resolve().parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(HERE.parent / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _quantrack(*args: str, cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "quantrack", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"quantrack {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    wall = time.perf_counter() - started
    if args[0] == "sweep":
        print(proc.stdout, file=sys.stderr)  # the sweep's own terminal table, for the record
    return wall


def sequential(work: Path, epochs: int | None) -> tuple[float, dict[int, dict]]:
    uri = f"sqlite:///{work / 'seq.db'}"
    extra = ["--epochs", str(epochs)] if epochs else []
    total = 0.0
    reports = {}
    for seed in SEEDS:
        out = work / "seq" / str(seed)
        total += _quantrack("run", "--methods", "dynamic-int8", "--seed", str(seed), "--tracking-uri", uri,
                            "--out", str(out), *extra, cwd=work)
        (run_dir,) = [p for p in out.iterdir() if p.is_dir() and p.name != "spool"]
        reports[seed] = json.loads((run_dir / "report.json").read_text())
    return total, reports


def sweep(work: Path, epochs: int | None) -> tuple[float, dict]:
    uri = f"sqlite:///{work / 'sweep.db'}"
    extra = ["--epochs", str(epochs)] if epochs else []
    out = work / "sweep"
    wall = _quantrack("sweep", "--methods", "dynamic-int8", "--seed", ",".join(map(str, SEEDS)),
                      "--max-concurrent", "2", "--tracking-uri", uri, "--out", str(out), *extra, cwd=work)
    (sweep_dir,) = out.glob("*-sweep-*")
    return wall, json.loads((sweep_dir / "sweep.json").read_text())


def _fp32_p50(report: dict, batch: int) -> float:
    fp32 = next(v for v in report["variants"] if v["name"] == "fp32")
    return next(lat["p50_us"] for lat in fp32["latency"] if lat["batch_size"] == batch)


def _cpu() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    isa = "AVX-512 VNNI" if "avx512_vnni" in flags else ("AVX2" if "avx2" in flags else "no AVX2")
    return f"{model} ({isa})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=None, help="default: quantrack's own (100)")
    ap.add_argument("--md", type=Path, default=HERE / "results" / "sweep.md")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="quantrack-bench-sweep-") as tmp:
        work = Path(tmp)
        load_before = os.getloadavg()[0]
        seq_s, reports = sequential(work, args.epochs)
        sweep_s, result = sweep(work, args.epochs)
        load_after = os.getloadavg()[0]
    trials = {int(t["params"]["seed"]): t for t in result["trials"]}
    failed = [t["name"] for t in result["trials"] if t["status"] != "FINISHED"]
    if failed:
        raise SystemExit(f"trials failed: {failed}")
    batch_all = reports[0]["batch_sizes"][-1]
    ratios = {}
    for batch in (1, batch_all):
        ratios[batch] = []
        for seed in SEEDS:
            fp32 = next(c for c in trials[seed]["candidates"] if c["variant"] == "fp32")
            inside = fp32["p50_us"] if batch == batch_all else fp32["p50_us_b1"]
            ratios[batch].append(inside / _fp32_p50(reports[seed], batch))
    timing = result["timing"]
    inside_s = sum(t["seconds"] for t in trials.values())
    overhead = (2 * timing["tune_s"] - inside_s) / len(SEEDS)
    rss = [t["worker_peak_rss_mb"] for t in trials.values()]
    out = {
        "cpu": _cpu(), "cores": os.cpu_count(), "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
        "trials": len(SEEDS), "sequential_s": round(seq_s, 2), "sweep_s": round(sweep_s, 2),
        "ratio": round(sweep_s / seq_s, 3), "ray_start_s": timing["ray_start_s"], "tune_s": timing["tune_s"],
        "seconds_inside_trials": round(inside_s, 2), "ray_overhead_per_trial_s": round(overhead, 2),
        "worker_peak_rss_mb": {"max": max(rss), "median": statistics.median(rss)},
        "sequential_run_s_mean": round(seq_s / len(SEEDS), 2),
        "fp32_p50_inside_over_alone": {str(b): {"median": round(statistics.median(r), 3), "min": round(min(r), 3),
                                                "max": round(max(r), 3), "each": [round(x, 3) for x in r],
                                                "within_15_percent": sum(abs(x - 1) <= 0.15 for x in r)}
                                       for b, r in ratios.items()},
    }
    print(json.dumps(out, indent=2))
    args.md.write_text(markdown(out, batch_all), encoding="utf-8")


def markdown(r: dict, batch_all: int) -> str:
    p = r["fp32_p50_inside_over_alone"]
    target = "met" if r["ratio"] <= 0.65 else "**not met**"
    lines = [
        "## (g) `quantrack sweep` on Ray: 8 trials, 2 workers",
        "",
        f"Written by `benchmarks/sweep.py`. {r['cpu']}, {r['cores']} cores; load average "
        f"{r['load_average_before_after'][0]} before, {r['load_average_before_after'][1]} after (the machine is shared).",
        "Eight configurations (`--methods dynamic-int8`, digits, 100 epochs, seeds 0–7), each tracked and registered "
        "in a fresh SQLite store.",
        "",
        "| | wall time |",
        "|---|---|",
        f"| 8 × `quantrack run`, one after another | {r['sequential_s']:.1f} s ({r['sequential_run_s_mean']:.1f} s each) |",
        f"| `quantrack sweep --seed 0,…,7 --max-concurrent 2`, Ray's start included | {r['sweep_s']:.1f} s |",
        f"| ratio (target ≤ 0.65: {target}) | {r['ratio']:.2f}x |",
        "",
        "| inside the sweep | figure |",
        "|---|---|",
        f"| Ray start (`ray.init(num_cpus=2)`) | {r['ray_start_s']:.1f} s |",
        f"| Tune, first trial to last | {r['tune_s']:.1f} s |",
        f"| time inside the 8 trials (`pipeline.run`) | {r['seconds_inside_trials']:.1f} s |",
        f"| Ray overhead per trial: (2 × Tune time − time inside trials) / 8 | {r['ray_overhead_per_trial_s']:.2f} s |",
        f"| peak RSS of a Ray worker (max / median over trials) | {r['worker_peak_rss_mb']['max']:.0f} / "
        f"{r['worker_peak_rss_mb']['median']:.0f} MB |",
        "",
        "Honest latency under concurrency: a node-local file lock (`sweep/gate.py`) admits one timing phase at a "
        "time per machine while the other worker keeps training. A trial's fp32 p50 inside the sweep, divided by "
        "the same configuration's p50 in its sequential run (median, min–max over the 8 configurations; target: "
        "within 15 %):",
        "",
        "| batch | inside / alone: median (min–max) | configurations within 15 % |",
        "|---|---|---|",
        *(f"| {b} | {p[str(b)]['median']:.2f}x ({p[str(b)]['min']:.2f}–{p[str(b)]['max']:.2f}) | "
          f"{p[str(b)]['within_15_percent']} of {r['trials']} |" for b in (1, batch_all)),
        "",
        "Each configuration's ratio, in seed order: "
        + "; ".join(f"batch {b}: " + ", ".join(f"{x:.2f}" for x in p[str(b)]["each"]) for b in (1, batch_all))
        + ". A ratio far below 1 means the run *alone* was the slower one: the machine is shared, and another "
          "user's load during a sequential run slows it as much as a second trial would.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
