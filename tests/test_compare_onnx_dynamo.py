"""quantrack compare on the file torch 2.13's default ``torch.onnx.export(model, args, "m.onnx")``
writes: the dynamo exporter's graph, with its weights in ``m.onnx.data`` beside it and the batch
axis fixed at the example's size. Every ONNX and OpenVINO method must take it; sizes count the data."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import pandas as pd
    import torch
    from torch import nn

    d = tmp_path_factory.mktemp("dynamo")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 96), nn.ReLU(), nn.Linear(96, 96), nn.ReLU(), nn.Linear(96, 4)).eval()
    X = np.random.default_rng(0).normal(size=(300, 12)).astype(np.float32)
    with torch.no_grad():
        y = net(torch.from_numpy(X)).argmax(1).numpy()
    torch.onnx.export(net, (torch.from_numpy(X[:2]),), str(d / "m.onnx"))  # the default: dynamo, external data
    assert (d / "m.onnx.data").stat().st_size > (d / "m.onnx").stat().st_size
    pd.DataFrame(X, columns=[f"f{i}" for i in range(12)]).assign(label=y).to_csv(d / "rows.csv", index=False)
    return d


def test_the_default_export_goes_through_compare_with_sizes_counting_the_data(exported, run_cli, sqlite_uri,
                                                                               tmp_path, capsys):
    d = exported
    code = run_cli("compare", str(d / "m.onnx"), "--dataset", str(d / "rows.csv"), "--methods",
                   "onnx-int8-dynamic,onnx-int8-static,openvino-fp32,openvino-int8", "--tracking-uri", sqlite_uri,
                   "--out", str(tmp_path / "out"), "--calibration-rows", "100")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    folder = next((tmp_path / "out").iterdir())
    v = {r["name"]: r for r in json.loads((folder / "report.json").read_text())["variants"]}
    for name in ("onnx-int8-dynamic", "onnx-int8-static", "openvino-fp32", "openvino-int8"):
        assert v[name]["available"], (name, v[name]["reason"])
        assert v[name]["accuracy"] > 0.7  # labels are fp32's own argmax; an untrained net's logits are close
    data_bytes = (d / "m.onnx.data").stat().st_size
    assert v["fp32"]["file_bytes"] >= data_bytes  # the weights are counted, not only the graph's 1-2 kB
    assert v["openvino-fp32"]["file_bytes"] >= data_bytes  # its .xml + .bin
    assert 0 < v["onnx-int8-dynamic"]["file_bytes"] < v["fp32"]["file_bytes"]
    assert "ONNX Runtime" in v["onnx-int8-static"]["runtime"] and "CPUExecutionProvider" in v["onnx-int8-static"]["runtime"]
    assert "inference precision float32" in v["openvino-fp32"]["runtime"]
    assert "inference precision" in (folder / "report.md").read_text()
    assert v["onnx-int8-static"]["recipe"]["op_types"] is None  # a plain MLP: ORT's op set, as before


def test_every_quantized_method_failing_is_one_line_and_non_zero(exported, run_cli, sqlite_uri, tmp_path, capsys,
                                                                  monkeypatch):
    from quantrack.methods import onnx_int8_dynamic

    def broken(*a, **k):
        raise RuntimeError("the quantizer tripped")

    monkeypatch.setattr(onnx_int8_dynamic, "quantize", broken)
    d = exported
    code = run_cli("compare", str(d / "m.onnx"), "--dataset", str(d / "rows.csv"), "--methods", "onnx-int8-dynamic",
                   "--tracking-uri", sqlite_uri, "--out", str(tmp_path / "out"))
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and "every quantized method failed" in err and "the quantizer tripped" in err, err
