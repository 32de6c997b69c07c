"""quantrack.compare(path.onnx): the library path of an ONNX model (the CLI's is tests/test_compare_onnx.py)."""

from __future__ import annotations

import numpy as np
import pytest

from quantrack.errors import QuantrackError


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    import torch
    from torch import nn

    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    X = np.random.default_rng(2).normal(size=(120, 6)).astype(np.float32)
    path = tmp_path_factory.mktemp("g") / "net.onnx"
    torch.onnx.export(net, (torch.from_numpy(X[:2]),), path, dynamo=False, input_names=["v"],
                      dynamic_axes={"v": {0: "n"}})
    return path, X


def test_a_path_is_compared_as_the_graph_itself(graph):
    import onnxruntime as ort

    import quantrack

    path, X = graph
    own = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"v": X})[0]
    report = quantrack.compare(path, calibration=X[:40], eval_data=X, metric=lambda o, f: -float(np.abs(o - own).max()),
                               metric_name="neg_max_abs_error", methods=["onnx-int8-dynamic", "fp16", "onnx-fp32"],
                               batch_sizes=(1,), latency_budget_s=0.02)
    v = {r.name: r for r in report.variants}
    assert v["fp32"].score == 0.0  # the baseline's outputs are exactly ORT's on the given graph
    assert v["onnx-int8-dynamic"].available and v["onnx-int8-dynamic"].score < 0
    assert v["fp16"].reason.startswith("does not apply to an ONNX model")
    assert "baseline" in v["onnx-fp32"].reason
    assert report.model_summary["class"] == "ONNX graph net.onnx" and report.model_summary["params"] == 6 * 16 + 16 + 16 * 3 + 3


def test_rows_of_the_wrong_width_are_one_clear_error(graph):
    import quantrack

    path, X = graph
    with pytest.raises(QuantrackError, match=r"input 'v' expects rows of shape \(6\), but eval_data has rows of shape \(5\)"):
        quantrack.compare(str(path), eval_data=X[:, :5], metric=lambda o, f: 0.0)
