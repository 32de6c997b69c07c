"""Run every benchmark side by side and write BENCHMARKS.md (the whole file is generated).

    python benchmarks/run.py            # full run, a few minutes on 2 cores
    python benchmarks/run.py --quick    # smoke test: tiny epochs, one repeat
    python benchmarks/run.py --out /tmp/B.md

Sections: (a) the assignment's way against quantrack, training and end to end;
(b) inference latency of every variant against a numpy floor and ONNX Runtime;
(c) training time and peak memory against rows and against MLP hidden size;
(d) ``quantrack --help`` start-up. Every measurement runs in its own subprocess;
A/B pairs alternate their order; figures are medians with their spread.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
PY = sys.executable


@dataclass
class Proc:
    wall_s: float
    rc: int
    maxrss_bytes: int
    stdout: str
    stderr: str
    cpu_s: float = 0.0  # user + system time of the process and every child it waited for


def _env(drop: tuple[str, ...] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env.pop("MLFLOW_TRACKING_URI", None)  # every run names its own fresh store
    env["PYTHONWARNINGS"] = "ignore"
    # The assignment script imports MLflow without quantrack: keep its telemetry off too,
    # so a benchmark talks to nothing but the local SQLite store.
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def sh(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True) -> Proc:
    """Run ``cmd``; wall time, exit code, peak RSS and CPU time (wait4: the process and its reaped children)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env or _env(), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        p = Proc(wall, proc.returncode, usage.ru_maxrss * 1024, out.read(), err.read(),
                 usage.ru_utime + usage.ru_stime)
    if check and p.rc != 0:
        raise SystemExit(f"benchmark step failed ({p.rc}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return p


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(min(xs))}–{fmt.format(max(xs))}" if len(xs) > 1 else "one run"


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


# -- machine ------------------------------------------------------------------

def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"cpu": cpu, "cores": str(os.cpu_count()), "python": platform.python_version(),
            "platform": platform.platform(), "torch": version("torch"), "onnxruntime": version("onnxruntime"),
            "numpy": version("numpy"), "mlflow": version("mlflow"), "scikit-learn": version("scikit-learn")}


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# -- (a) the assignment's way against quantrack -------------------------------

def bench_training(seeds: int, epochs: int) -> dict:
    return last_json(sh([PY, str(BENCH / "train_compare.py"), "--seeds", str(seeds), "--epochs", str(epochs)]).stdout)


def bench_end_to_end(repeats: int, epochs: int, all_repeats: int) -> dict:
    runs: dict[str, list[dict]] = {"assignment": [], "quantrack": [], "quantrack_all": [], "assignment_default": []}

    def assignment(tmp: Path, threads: list[str]) -> dict:
        p = sh([PY, str(BENCH / "assignment_style.py"), *threads, "--epochs", str(epochs),
                "--tracking-uri", f"sqlite:///{tmp / 'mlflow.db'}", "--json", str(tmp / "a.json")], cwd=tmp)
        a = json.loads((tmp / "a.json").read_text())
        return {"wall_s": p.wall_s, "cpu_s": p.cpu_s, "train_s": a["train_s"], "rss": p.maxrss_bytes,
                "accuracy": a["accuracy"], "threads": a["threads"]}

    def quantrack(tmp: Path, methods: str) -> dict:
        p = sh([PY, "-m", "quantrack", "run", "--methods", methods, "--epochs", str(epochs),
                "--tracking-uri", f"sqlite:///{tmp / 'mlflow.db'}", "--out", str(tmp / "runs")], cwd=tmp)
        report = json.loads(next((tmp / "runs").glob("*/report.json")).read_text())
        acc = next(v["accuracy"] for v in report["variants"] if v["name"] == "fp32")
        return {"wall_s": p.wall_s, "cpu_s": p.cpu_s, "train_s": report["train_seconds"], "rss": p.maxrss_bytes,
                "accuracy": 100 * acc,
                "variants": [v["name"] for v in report["variants"] if v.get("available", True)]}

    for i in range(repeats):
        order = ["assignment", "quantrack"] if i % 2 == 0 else ["quantrack", "assignment"]
        if i < all_repeats:
            order += ["quantrack_all", "assignment_default"]
        for name in order:
            with tempfile.TemporaryDirectory() as d:
                tmp = Path(d)
                if name == "assignment":
                    runs[name].append(assignment(tmp, ["--threads", "1"]))
                elif name == "assignment_default":
                    runs[name].append(assignment(tmp, []))
                else:
                    runs[name].append(quantrack(tmp, "all" if name == "quantrack_all" else "dynamic-int8"))
    return runs


# -- (b) latency ----------------------------------------------------------------

def bench_latency(epochs: int, budget: float, methods: str) -> dict:
    blas_vars = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    # numpy's OpenBLAS runs its generic kernel while these are set (see the note in the
    # machine's env README); unset both for this measurement alone and record the kernel.
    out = last_json(sh([PY, str(BENCH / "latency.py"), "--epochs", str(epochs), "--budget", str(budget),
                        "--methods", methods], env=_env(drop=blas_vars)).stdout)
    out["blas_env_set"] = {k: os.environ[k] for k in blas_vars if k in os.environ}
    if out["blas_env_set"]:
        as_set = last_json(sh([PY, str(BENCH / "latency.py"), "--epochs", str(epochs), "--budget", str(budget),
                               "--numpy-only"]).stdout)
        row = as_set["rows"][0]
        row["name"] = "numpy matmul, OPENBLAS_CORETYPE as set"
        out["rows"].insert(1, row)
        out["blas_as_set"] = as_set["blas"]
    return out


# -- (c) scaling ----------------------------------------------------------------

def bench_scaling(points: list[tuple[int, int]], hidden: list[tuple[int, int, int]]) -> dict:
    rows = [last_json(sh([PY, str(BENCH / "scale.py"), "--rows", str(n), "--epochs", str(e)]).stdout)
            for n, e in points]
    mlps = [last_json(sh([PY, str(BENCH / "scale.py"), "--rows", str(n), "--epochs", str(e), "--model", "mlp",
                          "--hidden", f"{h},{h}"]).stdout) for h, n, e in hidden]
    return {"rows": rows, "hidden": mlps}


# -- (d) start-up -----------------------------------------------------------------

_MODULES_PROBE = """
import sys
from quantrack.cli.app import main  # what `quantrack` runs, without its os._exit so this can report
try:
    main(["--help"])
except SystemExit:
    pass
heavy = [m for m in ("torch", "mlflow", "sklearn", "pandas", "onnxruntime", "matplotlib") if m in sys.modules]
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def bench_help(repeats: int) -> dict:
    sh([PY, "-m", "quantrack", "--help"])  # warm the file cache once
    help_s, bare_s = [], []
    for _ in range(repeats):
        help_s.append(sh([PY, "-m", "quantrack", "--help"]).wall_s)
        bare_s.append(sh([PY, "-c", "pass"]).wall_s)
    probe = sh([PY, "-c", _MODULES_PROBE]).stderr
    heavy = next(line for line in probe.splitlines() if line.startswith("HEAVY=")).removeprefix("HEAVY=")
    return {"help_s": help_s, "bare_s": bare_s, "heavy_modules": heavy}


# -- the file ---------------------------------------------------------------------

def render(args, m: dict, started: str, load_before: str, load_after: str, elapsed: float, tr: dict, e2e: dict,
           lat: dict, sc: dict, hp: dict) -> str:
    out: list[str] = []
    w = out.append
    a_train = [r["assignment"]["seconds"] for r in tr["rows"]]
    q_train = [r["quantrack"]["seconds"] for r in tr["rows"]]
    a_acc = statistics.mean(r["assignment"]["accuracy"] for r in tr["rows"])
    q_acc = statistics.mean(r["quantrack"]["accuracy"] for r in tr["rows"])
    speedup = med(a_train) / med(q_train)
    a_wall = [r["wall_s"] for r in e2e["assignment"]]
    q_wall = [r["wall_s"] for r in e2e["quantrack"]]
    e2e_ratio = med(q_wall) / med(a_wall)
    help_med = med(hp["help_s"])
    big = max(sc["rows"], key=lambda r: r["rows"])
    big_over = big["peak_rss_bytes"] - big["baseline_rss_bytes"]

    w("# Benchmarks")
    w("")
    w(f"Generated by `python benchmarks/run.py{' --quick' if args.quick else ''}` on {started} in {elapsed:.0f} s. "
      "Every figure below comes from that run; do not edit by hand, rerun the script.")
    if args.quick:
        w("")
        w("**Quick mode: a smoke test with tiny epoch counts and one repeat. These figures are not the benchmark.**")
    w("")
    w("## Headlines")
    w("")
    w(table(["what", "figure", "target"], [
        [f"training, {tr['epochs']} epochs + tracking: assignment loop / quantrack (medians)",
         f"{speedup:.1f}x faster ({med(a_train):.2f} s vs {med(q_train):.2f} s)", "≥ 5x"],
        ["accuracy over the seeds, mean: assignment loop vs quantrack",
         f"{a_acc:.2f} % vs {q_acc:.2f} % (Δ {abs(a_acc - q_acc):.2f} points)", "within 0.3 points"],
        ["end to end, `quantrack run --methods dynamic-int8` / assignment script (medians)",
         f"{e2e_ratio:.2f}x the wall time ({med(q_wall):.2f} s vs {med(a_wall):.2f} s; CPU time, helpers "
         f"included: {med([r['cpu_s'] for r in e2e['quantrack']]):.2f} s vs "
         f"{med([r['cpu_s'] for r in e2e['assignment']]):.2f} s)", "≤ 0.6x"],
        ["`quantrack --help` start-up (median)",
         f"{help_med:.3f} s ({help_med / med(hp['bare_s']):.1f}x a bare `python -c pass`)", "< 0.5 s"],
        [f"peak memory training {big['rows']:,} rows x {big['features']} (over the interpreter baseline)",
         f"{mb(big_over)} = {big_over / big['table_bytes']:.2f}x the float32 table ({mb(big['table_bytes'])})",
         "< 3x"],
        ["peak memory of the default `quantrack run --methods dynamic-int8` (largest process RSS, median)",
         f"{mb(med([r['rss'] for r in e2e['quantrack']]))} (assignment script: "
         f"{mb(med([r['rss'] for r in e2e['assignment']]))})", "stated"],
    ]))
    w("")
    w("## Machine")
    w("")
    w(table(["", ""], [
        ["CPU", m["cpu"]], ["cores", m["cores"]], ["Python", m["python"]], ["platform", m["platform"]],
        ["torch", m["torch"]], ["onnxruntime", m["onnxruntime"]], ["numpy", m["numpy"]], ["mlflow", m["mlflow"]],
        ["scikit-learn", m["scikit-learn"]],
        ["threads", "1 everywhere (torch.set_num_threads, threadpoolctl for numpy's BLAS, ORT intra/inter-op)"],
        ["load average (1, 5, 15 min) before → after", f"{load_before} → {load_after}"],
    ]))
    w("")
    w("The machine is shared: read ratios measured side by side, not the absolute times, as the result.")
    w("")

    # (a) training
    w("## (a) The assignment's way against quantrack")
    w("")
    w(f"### Training: {tr['epochs']} epochs, tracking included, {len(tr['rows'])} seeds")
    w("")
    w("`benchmarks/train_compare.py`, one process, same split (quantrack's), one torch thread, order alternating "
      "by seed. *Assignment loop*: `DataLoader(TensorDataset, batch_size=32, shuffle=True)`, test loss batch-wise "
      "through a DataLoader, `torch.save` of each new best, two `mlflow.log_metric` calls per epoch to a fresh SQLite "
      "store (`benchmarks/assignment_style.py:train_loop`). *quantrack*: `training.train`, metrics buffered and sent "
      "with one `log_batch`. Both stores' tables are created before the clock starts.")
    w("")
    w(table(["seed", "assignment loop s", "quantrack s", "speed-up", "assignment acc %", "quantrack acc %",
             "best epoch A / Q"], [
        [r["seed"], f"{r['assignment']['seconds']:.3f}", f"{r['quantrack']['seconds']:.3f}",
         f"{r['assignment']['seconds'] / r['quantrack']['seconds']:.1f}x", f"{r['assignment']['accuracy']:.2f}",
         f"{r['quantrack']['accuracy']:.2f}", f"{r['assignment']['best_epoch']} / {r['quantrack']['best_epoch']}"]
        for r in tr["rows"]] + [[
            "**median**", f"{med(a_train):.3f} ({spread(a_train, '{:.3f}')})",
            f"{med(q_train):.3f} ({spread(q_train, '{:.3f}')})", f"**{speedup:.1f}x**",
            f"mean {a_acc:.2f}", f"mean {q_acc:.2f}", ""]]))
    w("")
    w(f"### End to end: whole scripts as subprocesses, fresh SQLite store each, {len(a_wall)} repeats alternating")
    w("")
    w("*Assignment script*: `benchmarks/assignment_style.py --threads 1` (imports, data, the loop above, dynamic "
      "int8, accuracy and one timing each, metrics to MLflow). *quantrack*: `python -m quantrack run --methods "
      "dynamic-int8` (also measures latency with repeats, writes report.json/report.md, logs params, tags, "
      "artifacts and models, draws the report's plots; it then runs its atexit handlers and leaves with "
      "`os._exit`, skipping the interpreter's teardown). quantrack uses the second core: a helper process creates "
      "the SQLite store while quantrack imports torch (`sqlite_store.py`), and another draws the plots while it "
      "registers the variants (`plot_worker.py`); the CPU column counts them, so it exceeds the wall time. "
      "Training time as each reports it (quantrack's excludes the final `log_batch`). "
      f"Epochs: {args.epochs}. Peak RSS is the largest of the process and its helpers (`wait4`).")
    w("")
    rows = []
    default_threads = e2e.get("assignment_default") or []
    for label, key in (("assignment script", "assignment"), ("quantrack run --methods dynamic-int8", "quantrack"),
                       ("quantrack run --methods all", "quantrack_all"),
                       (f"assignment script, torch's default threads "
                        f"({default_threads[0]['threads'] if default_threads else '?'})", "assignment_default")):
        rs = e2e.get(key) or []
        if not rs:
            continue
        wall = [r["wall_s"] for r in rs]
        train = [r["train_s"] for r in rs]
        cpu = [r["cpu_s"] for r in rs]
        rows.append([label, len(rs), f"{med(wall):.2f} ({spread(wall)})", f"{med(wall) / med(a_wall):.2f}x",
                     f"{med(cpu):.2f} ({spread(cpu)})",
                     f"{med(train):.3f} ({spread(train, '{:.3f}')})", f"{med(train) / a_train_sub(e2e):.2f}x",
                     mb(med([r["rss"] for r in rs])), f"{statistics.mean(r['accuracy'] for r in rs):.2f}"])
    w(table(["script", "runs", "wall s, median (range)", "wall vs assignment", "CPU s, median (range)",
             "training s (range)",
             "training vs assignment", "peak RSS", "fp32 accuracy %"], rows))
    if default_threads:
        w("")
        w(f"The last row is the report's script exactly as it would run, with torch's own thread count "
          f"({default_threads[0]['threads']}); the other rows pin it to one thread, the same as quantrack, so the "
          "ratios do not measure a thread-count difference. Both are shown since the faithful run can be "
          "faster or slower depending on the load of this shared machine.")
    if e2e["quantrack_all"]:
        extra = med([r["wall_s"] for r in e2e["quantrack_all"]]) - med(q_wall)
        w("")
        w(f"`--methods all` ran the variants {', '.join(e2e['quantrack_all'][0]['variants'])}: "
          f"{extra:+.2f} s of wall time over `--methods dynamic-int8` (medians).")
    w("")

    # (b) latency
    w("## (b) Inference latency against a numpy floor and ONNX Runtime")
    w("")
    bs = [str(b) for b in lat["batch_sizes"]]
    blas = "; ".join(f"{b['internal_api']} {b['version']} kernel {b['architecture']}" for b in lat["blas"])
    w(f"`benchmarks/latency.py`: the default model (digits, logistic regression, {args.epochs} epochs, seed 42); "
      f"quantrack's timer (warm-up, single calls until the median settles, at most {args.latency_budget} s per "
      f"cell), one thread. Floor: numpy `x @ W.T + b` in float32 with the trained weights (BLAS: {blas}; "
      "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for this run"
      + (f", set here to {lat['blas_env_set']}" if lat["blas_env_set"] else ", and not set in this environment")
      + f"). ONNX Runtime {lat['ort']}: fp32 session, the same weights as a Gemm graph. Batch sizes {', '.join(bs)}"
      " (1 row, the whole test split). Ratios are medians over the numpy floor's and over ORT's.")
    w("")
    floor = next(r for r in lat["rows"] if r["name"] == "numpy matmul (floor)")
    ortr = next((r for r in lat["rows"] if r["name"] == "ONNX Runtime fp32"), None)
    lrows = []
    for r in lat["rows"]:
        if not r["latency"]:
            lrows.append([r["name"], r["note"]] + [""] * (4 * len(bs) - 1))
            continue
        cells = [r["name"]]
        for b in bs:
            L = r["latency"][b]
            cells += [f"{L['p50_us']:.1f} ({L['p25_us']:.1f}–{L['p75_us']:.1f}){'' if L['stable'] else ' unsettled'}",
                      f"{L['p50_us'] / floor['latency'][b]['p50_us']:.2f}x",
                      f"{L['p50_us'] / ortr['latency'][b]['p50_us']:.2f}x" if ortr else "–", str(L["samples"])]
        lrows.append(cells)
    headers = ["variant"]
    for b in bs:
        headers += [f"b={b} p50 µs (p25–p75)", f"b={b} vs numpy", f"b={b} vs ORT", f"b={b} samples"]
    w(table(headers, lrows))
    w("")

    # (c) scaling
    w("## (c) Scaling: training time and peak memory")
    w("")
    w("`benchmarks/scale.py`, the real path: a synthetic table (64 float32 feature columns, an int label of 10 classes "
      "from a random linear teacher) is written to a Parquet file, then a fresh process does what `quantrack run` does "
      "before MLflow: `prepare(load_table(file))` (the loader's checks, the stratified 80/20 split, the scaler), "
      "`build_model`, `train` (batch 32, one torch thread). Fewer epochs for the big tables, as listed: compare "
      "seconds per epoch. Memory: the resident set high-water mark (VmHWM) of that process minus its resident set after "
      "imports, before the file is read: reading, splitting, scaling and training are all in the peak. The table's "
      "size is rows x 64 x 4 bytes.")
    w("")
    base = sc["rows"][0]
    w(table(["rows", "epochs", "total s", "s / epoch", "µs / training row", "per-row time vs smallest",
             "table (float32)", "peak RSS over baseline", "peak / table"], [
        [f"{r['rows']:,}", r["epochs"], f"{r['seconds']:.2f}", f"{r['seconds_per_epoch']:.3f}",
         f"{1e6 / r['train_rows_per_s']:.2f}", f"{base['train_rows_per_s'] / r['train_rows_per_s']:.2f}x",
         mb(r["table_bytes"]), mb(r["peak_rss_bytes"] - r["baseline_rss_bytes"]),
         f"{(r['peak_rss_bytes'] - r['baseline_rss_bytes']) / r['table_bytes']:.2f}x"] for r in sc["rows"]]))
    w("")
    w("Against MLP hidden size (two hidden layers of the given width, ReLU), same synthetic table, generated in memory "
      "and passed to `training.train` directly (sliced 80/20, no file, no scaler): the model's width alone:")
    w("")
    hb = sc["hidden"][0] if sc["hidden"] else None
    w(table(["hidden", "params", "rows", "epochs", "s / epoch", "vs narrowest", "vs logreg at the same rows",
             "peak RSS over baseline"], [
        [",".join(map(str, r["hidden"])), f"{r['params']:,}", f"{r['rows']:,}", r["epochs"],
         f"{r['seconds_per_epoch']:.3f}", f"{r['seconds_per_epoch'] / hb['seconds_per_epoch']:.2f}x",
         _vs_logreg(r, sc["rows"]), mb(r["peak_rss_bytes"] - r["baseline_rss_bytes"])] for r in sc["hidden"]]))
    w("")

    # (d) start-up
    w("## (d) Start-up")
    w("")
    w(f"`python -m quantrack --help`, {len(hp['help_s'])} runs, against a bare `python -c pass` run alternately. "
      f"Heavy modules imported by `--help`: {hp['heavy_modules'] or 'none'} (torch, mlflow, sklearn, pandas, "
      "onnxruntime, matplotlib checked).")
    w("")
    w(table(["command", "median s", "range s", "vs bare python"], [
        ["python -m quantrack --help", f"{help_med:.3f}", spread(hp["help_s"], "{:.3f}"),
         f"{help_med / med(hp['bare_s']):.1f}x"],
        ["python -c pass", f"{med(hp['bare_s']):.3f}", spread(hp["bare_s"], "{:.3f}"), "1.0x"],
    ]))
    w("")
    out += _included_sections()
    return "\n".join(out)


# Sections that take too long to rerun with the rest (minutes to an hour each); each file is written
# whole by the script it names, and states that script, its options and the machine it ran on. The
# MiniLM tables are one script (benchmarks/minilm.py) run three times over three groups of methods (see
# its docstring), so a third field names the group each file holds.
_INCLUDED = [("(e)", "minilm.md", "torch methods, eager"), ("(f)", "mnist.md", ""), ("(g)", "sweep.md", ""),
             ("(h)", "mixed_precision.md", ""), ("(i)", "search.md", ""),
             ("(j)", "minilm_torch_recipes.md", "torchao and PT2E compiled by Inductor"),
             ("(k)", "minilm_onnx_openvino.md", "ONNX Runtime and OpenVINO + NNCF"), ("(l)", "smollm.md", ""),
             ("(m)", "pt2e_reduce_range.md", ""),
             ("(n)", "smollm_sensitivity.md", ""), ("(o)", "smollm_sensitivity_dynamic-int8.md", "")]


# What changed in the included tables, so a reader comparing with an older BENCHMARKS.md (git history) knows
# which differences are the measurement's and which the code's.
_CHANGES = [
    "2026-12-02: (e), (f), (j), (k) rerun at the full timer (at least 6 windows of 5 pairs each) instead of "
    "`--quick-timer`, each script in its own process on the shared machine. (e) now calibrates on 64 other "
    "sentences (before: on the evaluated ones) and leaves out fp16 and bf16, (f) runs seven int8 methods, for "
    "time: fp16/bf16 take seconds a call on this AVX2 CPU (0.1–0.2x fp32 in the quick-timer tables, in git "
    "history). (k) now comes from `benchmarks/minilm.py` on the same 64 + 64 other sentences as (e) and (j) "
    "(before: `minilm_onnx_openvino.py`, 32 evaluated, 34 calibrating). torchao-int8-dynamic (eager) was not "
    "rerun (see minilm.py's docstring).",
    "2026-12-02: PT2E int8 static and QAT default to 8-bit activations on every CPU (`reduce_range=False`; "
    "before: 7 bits on CPUs without VNNI, as in the quick-timer (j)); (m) is the measurement behind it.",
    "2026-12-02: the champion (prefer size) counts files within 1 % of the smallest as a tie, which the "
    "side-by-side speed-up breaks. The champion lines of (e), (f), (j), (k) were computed with the rule's "
    "first form, the p50 as the tie-break; only (e)'s would differ under the speed-up: int8-weight-only "
    "(0.89x at batch 32) over pt2e-int8-static (0.70x), both 0.65x of fp32's file.",
    "2026-12-02: a timing verdict now also needs the median ratio's 95 % interval to exclude 1 (before: the "
    "interquartile range alone). The tables were measured under the old rule; six cells print a verdict their "
    "own bracket does not support and would now read 'no measurable difference': (e) int4-weight-only 0.89x "
    "[0.70–1.71] slower; (j) torchao-int8-dynamic-compiled 1.38x [0.98–1.81] faster and pt2e-int8-static-compiled "
    "1.63x [0.92–4.08] faster at batch 1; (k) onnx-fp32 1.12x [0.73–1.24] faster, onnx-mixed-int8 1.50x "
    "[0.94–1.96] faster, openvino-int8 0.84x [0.70–1.17] slower (all at batch 32 unless said).",
    "2026-12-02: inside compare, mixed-int8 and onnx-mixed-int8 now choose their float layers on calibration rows "
    "that are not evaluated (none: unavailable). (h) was rerun so: chosen on 64 other sentences; its plain "
    "onnx-int8-dynamic row also moved (0.9667 to 0.9920 cosine), from the per-graph ORT recipe that came after "
    "(h)'s previous run. The mixed rows of (e) and (k) were measured before this change: their float layers "
    "were chosen on the evaluated sentences, so their scores there are slightly optimistic.",
    "2026-12-02: pt2e-int8-static-compiled defaults back to torchao's rule (reduce_range=None: 7-bit activations "
    "where the CPU lacks VNNI), the eager pt2e-int8-static keeps 8 bits: compiled at 8 bits on this AVX2 CPU, "
    "the test MLP's outputs strayed up to 0.25 from the eager graph's (oneDNN's 16-bit sums saturate), though "
    "MiniLM's did not. (j)'s compiled PT2E row was measured at 8 bits, before this change.",
]


def _included_sections() -> list[str]:
    out = ["## Changes to the included tables", "", *(f"- {c}" for c in _CHANGES), ""]
    for label, name, group in _INCLUDED:
        path = BENCH / "results" / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8").strip()
        title, _, body = text.partition("\n")
        title = title.lstrip("# ").strip()
        if not title.startswith("("):
            title = f"{label} {title}"
        if group:
            title += f": {group}"
        body = re.sub(r"^(#+) ", r"#\1 ", body.strip(), flags=re.M)  # its headings one level down, under ours
        out += [f"## {title}", "", f"*Included from `benchmarks/results/{name}`.*", "", body, ""]
    return out


def a_train_sub(e2e: dict) -> float:
    return med([r["train_s"] for r in e2e["assignment"]])


def _vs_logreg(r: dict, logregs: list[dict]) -> str:
    same = next((x for x in logregs if x["rows"] == r["rows"]), None)
    return f"{r['seconds_per_epoch'] / same['seconds_per_epoch']:.1f}x" if same else "–"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run the benchmarks and write BENCHMARKS.md.")
    ap.add_argument("--quick", action="store_true", help="smoke test: tiny epochs, one repeat")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--render", metavar="JSON", help="only re-render the Markdown from a saved raw-results file")
    args = ap.parse_args(argv)
    raw_path = Path(args.out).with_suffix(".json")
    raw_path.parent.mkdir(parents=True, exist_ok=True)
    if args.render:
        raw = json.loads(Path(args.render).read_text(encoding="utf-8"))
        args.quick, args.epochs, args.latency_budget = raw["quick"], raw["epochs"], raw["latency_budget"]
        Path(args.out).write_text(render(args, *raw["results"]), encoding="utf-8")
        return
    q = args.quick
    args.epochs = 3 if q else 100
    args.latency_budget = 0.2 if q else 1.0
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.perf_counter()
    load_before = load()
    m = machine()

    def step(name, fn, *a):
        print(f"[{time.perf_counter() - t0:6.1f} s] {name}", file=sys.stderr, flush=True)
        return fn(*a)

    tr = step("training, assignment loop vs quantrack", bench_training, 1 if q else 5, args.epochs)
    e2e = step("end to end", bench_end_to_end, 1 if q else 5, args.epochs, 0 if q else 2)
    # Quick mode times two methods, not every one: it checks the table is written, not the figures.
    lat = step("latency", bench_latency, args.epochs, args.latency_budget,
               "dynamic-int8,onnx-int8-dynamic" if q else "all")
    points = [(10_000, 1)] if q else [(1_000, 100), (10_000, 20), (100_000, 3), (1_000_000, 1)]
    hidden = [(64, 1_000, 1)] if q else [(64, 10_000, 2), (256, 10_000, 2), (1024, 10_000, 1)]
    sc = step("scaling", bench_scaling, points, hidden)
    hp = step("start-up", bench_help, 3 if q else 15)
    elapsed = time.perf_counter() - t0
    results = [m, started, load_before, load(), elapsed, tr, e2e, lat, sc, hp]
    # The raw figures beside the Markdown, so a table can be re-rendered (--render) without rerunning.
    raw_path.write_text(json.dumps({"quick": q, "epochs": args.epochs, "latency_budget": args.latency_budget,
                                    "results": results}, indent=1), encoding="utf-8")
    Path(args.out).write_text(render(args, *results), encoding="utf-8")
    print(f"[{elapsed:6.1f} s] wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
