"""quantrack.search against the best fixed method of quantrack.compare and NNCF's
quantize_with_accuracy_control, at the same budget, on all-MiniLM-L6-v2 (cosine to fp32) and on
quantrack's MNIST CNN (accuracy). Writes benchmarks/results/search.md and search.json.

Rows: the evaluation rows are split as the search splits them (seed 0, half held out, stratified
for MNIST). The search chooses on the selection rows and is judged on the held-out rows; NNCF
validates on the same selection rows and is judged on the same held-out rows; compare, which has
no split, is run on the held-out rows themselves (its choice is made on the rows that judge it,
which can only flatter it). Calibration: the selection rows (MiniLM: its sentences), so no
held-out row shapes any quantization. Every speed-up is at batch 1 against torch fp32 eager,
side by side (evaluate/timing.py), one thread.

    python benchmarks/search.py --models cnn,minilm --minilm-time-budget 900 --cnn-time-budget 300
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _shared import HERE, machine_line, minilm_example

TORCH_METHODS = ("dynamic-int8", "static-int8", "int8-weight-only", "onnx-int8-dynamic", "onnx-int8-static")


def _minilm(n_sentences: int):
    ex = minilm_example()
    model, tokenizer = ex.load()
    ids, mask = ex.tokenize(tokenizer, ex.SENTENCES[:n_sentences])
    return dict(name="all-MiniLM-L6-v2", model=model, inputs=(ids, mask), labels=None, metric=ex.cosine,
                metric_name="cosine", model_kind=None, max_drop=0.005, nncf_type="TRANSFORMER",
                about=f"{n_sentences} sentences x 32 tokens")


def _cnn(epochs: int):
    from quantrack.config import build_config
    from quantrack.recipe_search.inputs import from_training

    given = from_training(build_config(dataset="mnist", model="cnn", epochs=epochs, seed=42, threads=1))
    X, y = given.eval_data
    return dict(name="MNIST CNN", model=given.model, inputs=(X,), labels=y, metric=None, metric_name="accuracy",
                model_kind="cnn", max_drop=0.01, nncf_type=None,
                about=f"quantrack's CNN trained {epochs} epochs on 4,000 MNIST digits; {len(X)} test rows")


def _score_rows(outputs: np.ndarray, base: np.ndarray, labels, metric) -> np.ndarray:
    if metric is None:
        return outputs.argmax(1) == labels
    return np.array([metric(outputs[i:i + 1], base[i:i + 1]) for i in range(len(outputs))])


def _search(case, calib, time_budget_s: float, methods, objective: str) -> dict[str, Any]:
    import quantrack

    eval_data = (*case["inputs"], case["labels"]) if case["labels"] is not None else case["inputs"]
    t = time.perf_counter()
    r = quantrack.search(case["model"], calibration=calib, eval_data=eval_data, metric=case["metric"],
                         metric_name=case["metric_name"], max_drop=case["max_drop"], objective=objective,
                         time_budget_s=time_budget_s, methods=list(methods), model_kind=case["model_kind"], seed=0)
    wall = time.perf_counter() - t
    s = r.search
    champ = r.variant(r.champion)
    base = r.variant("fp32")
    trial = next((x for x in s["trials"] if x["id"] == s["champion_trial"]), None)
    return {"objective": objective, "champion": r.champion, "reason": r.champion_reason,
            "held_out_score": champ.score,
            "fp32_held_out_score": base.score, "drop_ci": list(champ.drop_ci) if champ.drop_ci else None,
            "speedup_b1": trial["latency"]["speedup"] if trial else 1.0,
            "file_ratio": champ.file_ratio, "wall_s": round(wall, 1), "trials": len(s["trials"]),
            "ok_trials": sum(x["status"] == "ok" for x in s["trials"]),
            "stopped_because": s["stopped_because"], "selection_rows": s["selection_rows"],
            "held_out_rows": s["held_out_rows"], "strategy": s["champion_strategy"],
            "trial_table": [{k: x.get(k) for k in ("id", "label", "status", "score", "drop", "within_budget",
                                                  "file_bytes", "seconds", "reason")}
                            | {"speedup_b1": (x.get("latency") or {}).get("speedup")} for x in s["trials"]]}


def _compare(case, calib, held_idx, methods, objective: str) -> dict[str, Any]:
    import quantrack

    held_inputs = tuple(a[held_idx] for a in case["inputs"])
    eval_data = (*held_inputs, case["labels"][held_idx]) if case["labels"] is not None else held_inputs
    t = time.perf_counter()
    r = quantrack.compare(case["model"], calibration=calib, eval_data=eval_data, metric=case["metric"],
                          metric_name=case["metric_name"], methods=list(methods), max_drop=case["max_drop"],
                          prefer=objective, batch_sizes=(1,), model_kind=case["model_kind"])
    wall = time.perf_counter() - t
    champ, base = r.variant(r.champion), r.variant("fp32")
    lat = champ.latency_at(1)
    return {"objective": objective, "champion": r.champion, "reason": r.champion_reason,
            "held_out_score": champ.score,
            "fp32_held_out_score": base.score, "drop_ci": list(champ.drop_ci) if champ.drop_ci else None,
            "speedup_b1": lat.speedup if lat and lat.speedup else 1.0, "file_ratio": champ.file_ratio,
            "wall_s": round(wall, 1),
            "variants": [{"name": v.name, "available": v.available, "score": v.score,
                          "drop_ci": list(v.drop_ci) if v.drop_ci else None,
                          "speedup_b1": (v.latency_at(1).speedup if v.available and v.latency_at(1) else None),
                          "reason": v.reason} for v in r.variants]}


def _nncf(case, sel_idx, held_idx, calib_inputs) -> dict[str, Any]:
    """NNCF's accuracy-aware quantization of the OpenVINO model (fp32 IR, f32 inference), validated on the
    selection rows with the same metric and budget, judged on the held-out rows like the search's champion."""
    import nncf
    import openvino as ov
    import torch

    from quantrack.core.stats import paired_stats
    from quantrack.evaluate.timing import time_against

    model, metric, labels = case["model"], case["metric"], case["labels"]
    inputs = case["inputs"]
    with torch.no_grad():
        base = model(*[torch.from_numpy(a) for a in inputs]).float().numpy()
    t = time.perf_counter()
    example = tuple(torch.from_numpy(a[:1]) for a in inputs)
    fp32_ir = ov.convert_model(model, example_input=example if len(example) > 1 else example[0])
    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": 1, "INFERENCE_PRECISION_HINT": "f32"}

    def run(compiled, rows):
        return np.asarray(compiled([a[rows] for a in inputs])[0], dtype=np.float32)

    def items(rows):
        return [(i,) for i in rows]

    calib = nncf.Dataset(list(range(len(calib_inputs[0]))),
                         lambda i: [a[i:i + 1] for a in calib_inputs])
    validation = nncf.Dataset(list(sel_idx), lambda i: [a[i:i + 1] for a in inputs])

    def validate(compiled, data) -> tuple[float, list[float]]:
        per = []
        for i in sel_idx:
            out = np.asarray(compiled([a[i:i + 1] for a in inputs])[0], dtype=np.float32)
            per.append(float(out.argmax(1)[0] == labels[i]) if metric is None else float(metric(out, base[i:i + 1])))
        return float(np.mean(per)), per

    kwargs = {"model_type": getattr(nncf.ModelType, case["nncf_type"])} if case["nncf_type"] else {}
    quantized = nncf.quantize_with_accuracy_control(fp32_ir, calib, validation, validate, max_drop=case["max_drop"],
                                                    drop_type=nncf.DropType.ABSOLUTE, subset_size=len(calib_inputs[0]),
                                                    **kwargs)
    wall = time.perf_counter() - t
    compiled = core.compile_model(quantized, "CPU", config)
    out = run(compiled, held_idx)
    rows = _score_rows(out, base[held_idx], None if labels is None else labels[held_idx], metric)
    base_rows = _score_rows(base[held_idx], base[held_idx], None if labels is None else labels[held_idx], metric)
    stats = paired_stats(base_rows, rows, confidence=0.95, seed=0)
    with tempfile.TemporaryDirectory() as d:
        ov.save_model(quantized, f"{d}/q.xml", compress_to_fp16=False)
        size = sum(p.stat().st_size for p in Path(d).iterdir())
        torch.save(model.state_dict(), f"{d}/fp32.pt")
        fp32_size = Path(f"{d}/fp32.pt").stat().st_size
    request = compiled.create_infer_request()
    x1 = [a[:1] for a in inputs]
    t1 = [torch.from_numpy(a[:1]) for a in inputs]
    with torch.inference_mode():
        lat = time_against(lambda: request.infer(x1), lambda: model(*t1), threads=1, batch_size=1, budget_s=0.3)
    return {"held_out_score": float(stats.score), "drop_ci": list(stats.drop_ci),
            "within_budget": bool(stats.drop_ci[1] <= case["max_drop"] + 1e-12), "speedup_b1": lat.speedup,
            "file_ratio": round(size / fp32_size, 4), "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="cnn,minilm")
    parser.add_argument("--minilm-time-budget", type=float, default=900)
    parser.add_argument("--cnn-time-budget", type=float, default=300)
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--methods", default=",".join(TORCH_METHODS))
    parser.add_argument("--no-nncf", action="store_true")
    parser.add_argument("--objectives", default="latency", help="comma-separated: latency, size (each searched and compared)")
    parser.add_argument("--out", default=str(HERE / "results" / "search"))
    args = parser.parse_args()
    import torch

    from quantrack.recipe_search.split import split_rows

    torch.set_num_threads(1)
    methods = [m for m in args.methods.split(",") if m]
    results = {"cpu": machine_line(), "methods": methods, "command": "python benchmarks/search.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out" and v not in (False, None)),
               "models": {}}
    for which in [m for m in args.models.split(",") if m]:
        case = _minilm(args.sentences) if which == "minilm" else _cnn(args.epochs)
        budget_s = args.minilm_time_budget if which == "minilm" else args.cnn_time_budget
        rows = len(case["inputs"][0])
        split = split_rows(rows, case["labels"], seed=0)
        calib = tuple(a[split.selection] for a in case["inputs"])  # only rows that choose shape the quantization
        entry = {"about": case["about"], "metric": case["metric_name"], "max_drop": case["max_drop"],
                 "time_budget_s": budget_s}
        entry["search"], entry["compare"] = [], []
        for objective in args.objectives.split(","):
            print(f"== {case['name']}: search ({objective})", flush=True)
            entry["search"].append(_search(case, calib, budget_s, methods, objective))
            print(json.dumps(entry["search"][-1], default=str)[:600], flush=True)
            print(f"== {case['name']}: compare ({objective})", flush=True)
            entry["compare"].append(_compare(case, calib, split.held_out, methods, objective))
        if not args.no_nncf:
            print(f"== {case['name']}: NNCF", flush=True)
            try:
                entry["nncf"] = _nncf(case, split.selection, split.held_out, calib)
            except Exception as e:  # recorded, not hidden
                entry["nncf"] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
        results["models"][case["name"]] = entry
        _write(results, Path(args.out))
    print(Path(args.out).with_suffix(".md").read_text())


def _write(results: dict[str, Any], out: Path) -> None:
    """Each model's entry replaces that model's earlier one: run the models separately, one file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.with_suffix(".json").exists():
        earlier = json.loads(out.with_suffix(".json").read_text())
        results = {**results, "models": {**earlier.get("models", {}), **results["models"]}}
        results["commands"] = sorted({*earlier.get("commands", [earlier.get("command")]), results["command"]} - {None})
    else:
        results["commands"] = [results["command"]]
    out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))
    lines = ["# quantrack.search vs the best fixed method and NNCF's accuracy control", "",
             f"Produced by {', '.join(f'`{c}`' for c in results['commands'])}. CPU: {results['cpu']}. Methods searched and compared: "
             f"{', '.join(results['methods'])}. Speed-ups at batch 1 against torch fp32 eager, "
             "side by side, 1 thread; file ×fp32 against torch fp32's state_dict file. Scores and drop intervals (95 %, paired) are on the held-out rows for all "
             "three; the search and NNCF chose on the selection rows, compare on the held-out rows themselves.", ""]
    for name, e in results["models"].items():
        lines += [f"## {name}", "", f"{e['about']}; {e['metric']}, max drop {e['max_drop']}, search time budget "
                  f"{e['time_budget_s']:g} s.", "",
                  "| approach | answer | held-out score (fp32) | drop 95 % CI | speed-up b=1 | file ×fp32 | wall s |",
                  "|---|---|---|---|---|---|---|"]
        n = e.get("nncf")
        for s, c in zip(e["search"], e["compare"], strict=True):
            _pair(lines, s, c)

        if n and "error" not in n:
            lines.append(f"| NNCF quantize_with_accuracy_control (OpenVINO int8; no objective) | "
                         f"{'within budget' if n['within_budget'] else 'over budget'} on held-out | "
                         f"{_num(n['held_out_score'])} | {_ci(n['drop_ci'])} | {_num(n['speedup_b1'], '{:.2f}x')} | "
                         f"{_num(n['file_ratio'], '{:.2f}')} | {n['wall_s']} |")
        elif n:
            lines.append(f"| NNCF quantize_with_accuracy_control | failed: {n['error']} | | | | | |")
        for s, c in zip(e["search"], e["compare"], strict=True):
            _details(lines, s, c)
        lines.append("")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def _ci(x):
    return f"{x[0]:.4f} to {x[1]:.4f}" if x else "–"


def _num(x, f="{:.4f}"):
    return "–" if x is None else f.format(x)


def _pair(lines, s, c) -> None:
    ci, num = _ci, _num
    if s:
            lines.append(f"| quantrack.search, objective {s['objective']} ({s['trials']} trials, stopped: {s['stopped_because']}; "
                         f"{s['selection_rows']} rows chose, {s['held_out_rows']} judged) | {s['champion']} | "
                         f"{num(s['held_out_score'])} ({num(s['fp32_held_out_score'])}) | {ci(s['drop_ci'])} | "
                         f"{num(s['speedup_b1'], '{:.2f}x')} | {num(s['file_ratio'], '{:.2f}')} | {s['wall_s']} |")
    if c:
            lines.append(f"| quantrack.compare, best fixed method, prefer {c['objective']} | {c['champion']} | {num(c['held_out_score'])} "
                         f"({num(c['fp32_held_out_score'])}) | {ci(c['drop_ci'])} | {num(c['speedup_b1'], '{:.2f}x')} "
                         f"| {num(c['file_ratio'], '{:.2f}')} | {c['wall_s']} |")


def _details(lines, s, c) -> None:
    num = _num
    if s:
            lines += ["", f"Search champion ({s['objective']}): {s['reason']}", "", "| trial | recipe | status | selection score | "
                      "drop | within | speed-up b=1 | s |", "|---|---|---|---|---|---|---|---|"]
            for t in s["trial_table"]:
                lines.append(f"| {t['id']} | {t['label']} | {t['status']}{': ' + t['reason'] if t['reason'] else ''} "
                             f"| {num(t['score'])} | {num(t['drop'])} | {'yes' if t['within_budget'] else 'no'} | "
                             f"{num(t['speedup_b1'], '{:.2f}x')} | {t['seconds']:.1f} |")
    if c:
            lines += ["", f"compare's champion ({c['objective']}): {c['reason']}"]


if __name__ == "__main__":
    main()
