"""Inference latency of every quantrack variant against a numpy floor and ONNX Runtime.

Trains the default model (digits, logistic regression, 100 epochs, seed 42), builds every
registered variant through ``quantrack.compare`` (each timed side by side with fp32), and
times a numpy floor and a hand-built ONNX Runtime graph with quantrack's own timer (warm-up,
single calls, repeated until the median settles) at batch 1 and the whole test split; one
thread everywhere: torch.set_num_threads, threadpoolctl for numpy's BLAS, ORT's
intra/inter-op thread counts. The numpy floor is ``x @ W.T + b`` in float32 with the
trained weights; the ORT session runs the same weights as an ONNX Gemm graph.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

import quantrack
from quantrack.data.load import load_table
from quantrack.data.prepare import prepare
from quantrack.evaluate.timing import time_calls
from quantrack.models import build_model
from quantrack.training import train


def _linear_layers(model: torch.nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(m.weight.detach().numpy().astype(np.float32), m.bias.detach().numpy().astype(np.float32))
            for m in model.modules() if isinstance(m, torch.nn.Linear)]


def numpy_runner(layers, x: np.ndarray):
    def run():
        h = x
        for i, (w, b) in enumerate(layers):
            h = h @ w.T + b
            if i < len(layers) - 1:
                h = np.maximum(h, 0)
        return h
    return run


def ort_session(layers, n_features: int):
    """An fp32 ONNX graph of the same Linear(/ReLU) stack: Gemm(x, W, b, transB=1)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, name = [], [], "x"
    for i, (w, b) in enumerate(layers):
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = f"h{i}"
        nodes.append(helper.make_node("Gemm", [name, f"W{i}", f"b{i}"], [out], transB=1))
        name = out
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [name], [f"r{i}"]))
            name = f"r{i}"
    graph = helper.make_graph(nodes, "model", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, n_features])],
                              [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, layers[-1][0].shape[0]])], inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"]), ort.__version__


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--budget", type=float, default=1.0, help="seconds of timing per variant and batch size, at most")
    ap.add_argument("--numpy-only", action="store_true")
    ap.add_argument("--methods", default="all", help="quantrack methods to time (run.py --quick: two)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = prepare(load_table("digits"), seed=42)
    torch.manual_seed(42)
    model = build_model("logreg", data.n_features, data.n_classes)
    train(model, data.X_train, data.y_train, data.X_test, data.y_test, epochs=args.epochs, lr=0.01,
          batch_size=32, seed=42)
    layers = _linear_layers(model)
    batches = {1: data.X_test[:1], len(data.X_test): data.X_test}
    rows: list[dict] = []

    def timed(name: str, make_run, note: str = "", context=contextlib.nullcontext) -> None:
        row = {"name": name, "note": note, "latency": {}}
        for bs, x in batches.items():
            with context():  # torch: autograd off once around the loop, as the pipeline times it
                lat = time_calls(make_run(x), threads=1, batch_size=bs, budget_s=args.budget, min_time_s=0.05)
            row["latency"][str(bs)] = lat.to_dict()
        rows.append(row)

    with threadpool_limits(limits=1):
        blas = [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                for i in threadpool_info() if i.get("user_api") == "blas"]
        timed("numpy matmul (floor)", lambda x: numpy_runner(layers, np.ascontiguousarray(x)))
    if not args.numpy_only:
        sess, ort_version = ort_session(layers, data.n_features)
        timed("ONNX Runtime fp32", lambda x: (lambda s=sess, feed={"x": np.ascontiguousarray(x)}: s.run(None, feed)))
        # Every variant through the public quantrack.compare, as a user gets them (fp32 first).
        report = quantrack.compare(model, calibration=(data.X_train, data.y_train),
                                   eval_data=(data.X_test, data.y_test), methods=args.methods.split(","),
                                   batch_sizes=tuple(batches), threads=1,
                                   latency_budget_s=args.budget, eval_batch_size=len(data.X_test), seed=42,
                                   model_kind="logreg")  # QatConfig defaults: lr 0.01, batch 32
        for v in report.variants:
            rows.append({"name": f"quantrack {v.name}" + (" (torch)" if v.name == "fp32" else ""),
                         "note": "" if v.available else f"unavailable: {v.reason}",
                         "latency": {str(lat.batch_size): lat.to_dict() for lat in v.latency}})
    print(json.dumps({"threads": 1, "blas": blas, "rows": rows,
                      "ort": None if args.numpy_only else ort_version, "batch_sizes": list(batches)}))


if __name__ == "__main__":
    main()
