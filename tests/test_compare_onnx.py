"""quantrack compare MODEL.onnx: a graph quantrack never saw, exported by the user, measured as it is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

CLASSES = ["low", "mid", "high", "odd"]


class _UsersNet:
    """Built lazily so collecting this file does not import torch."""

    @staticmethod
    def build():
        import torch
        from torch import nn

        class UsersNet(nn.Module):  # an architecture quantrack has no builder for
            def __init__(self) -> None:
                super().__init__()
                self.norm = nn.LayerNorm(10)
                self.body = nn.Sequential(nn.Linear(10, 48), nn.Tanh(), nn.Linear(48, 4))

            def forward(self, readings):
                return self.body(self.norm(readings * 0.5))

        torch.manual_seed(3)
        return UsersNet().eval()


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """The user's own work: a trained-elsewhere model exported with torch.onnx.export, and a labelled CSV."""
    import pandas as pd
    import torch

    d = tmp_path_factory.mktemp("user")
    net = _UsersNet.build()
    rng = np.random.default_rng(7)
    X = (rng.normal(size=(400, 10)) * 3 + 5).astype(np.float32)  # unscaled, as the user's file holds them
    with torch.no_grad():
        truth = net(torch.from_numpy(X)).argmax(1).numpy()
    flip = rng.random(len(X)) < 0.2  # the model is right on ~80 % of the rows: accuracy below 1
    y = np.where(flip, rng.integers(0, 4, len(X)), truth)
    frame = pd.DataFrame(X, columns=[f"r{i}" for i in range(10)])
    frame["kind"] = y
    frame.to_csv(d / "rows.csv", index=False)
    named = frame.assign(kind=[CLASSES[i] for i in y])
    named.to_csv(d / "named.csv", index=False)
    torch.onnx.export(net, (torch.from_numpy(X[:2]),), d / "users.onnx", dynamo=False, input_names=["readings"],
                      output_names=["scores"], dynamic_axes={"readings": {0: "n"}, "scores": {0: "n"}})
    return d, X, y


def _own_accuracy(onnx_path: Path, X: np.ndarray, y: np.ndarray) -> float:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return float(np.mean(sess.run(None, {"readings": X})[0].argmax(1) == y))


def test_an_onnx_file_goes_through_compare_and_is_tracked(user_files, run_cli, sqlite_uri, tmp_path, capsys):
    d, X, y = user_files
    code = run_cli("compare", str(d / "users.onnx"), "--dataset", str(d / "rows.csv"), "--target", "kind",
                   "--tracking-uri", sqlite_uri, "--out", str(tmp_path / "out"), "--calibration-rows", "100")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    folder = next((tmp_path / "out").iterdir())
    report = json.loads((folder / "report.json").read_text())
    v = {r["name"]: r for r in report["variants"]}
    own = _own_accuracy(d / "users.onnx", X, y)
    assert 0.5 < own < 1.0
    assert v["fp32"]["accuracy"] == pytest.approx(own, abs=1e-12)
    assert v["onnx-int8-dynamic"]["available"] and v["onnx-int8-static"]["available"]
    assert "does not apply to an ONNX model" in v["dynamic-int8"]["reason"]
    assert not v["onnx-fp32"]["available"] and "baseline" in v["onnx-fp32"]["reason"]
    assert report["config"]["eval_rows"] == len(X) and report["config"]["calibration_rows"] == 100
    assert "sample of 100 of the evaluated rows" in report["config"]["calibration_source"]
    assert "calibration:" in (folder / "report.md").read_text()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(sqlite_uri)
    everything = client.search_runs([client.get_experiment_by_name("quantrack").experiment_id])
    runs = [r for r in everything if "mlflow.parentRunId" not in r.data.tags]
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    children = {r.data.tags["quantrack.variant"]: r for r in everything
                if r.data.tags.get("mlflow.parentRunId") == runs[0].info.run_id}
    assert children["fp32"].data.metrics["accuracy"] == pytest.approx(own)
    assert "accuracy" in children["onnx-int8-static"].data.metrics
    assert "CPUExecutionProvider" in children["onnx-int8-static"].data.tags["quantrack.runtime"]
    assert runs[0].data.params["calibration_source"] == report["config"]["calibration_source"]
    # report.json names its run (it was saved before tracking and said "mlflow": {}), and report.md links it
    assert report["mlflow"]["run_id"] == runs[0].info.run_id
    assert report["mlflow"]["experiment_id"] == runs[0].info.experiment_id
    assert report["mlflow"]["tracking_uri"] == sqlite_uri
    assert runs[0].info.run_id in (folder / "report.md").read_text()
    assert runs[0].info.run_name.startswith("compare ")  # not MLflow's random name
    # the torch methods that do not apply to an ONNX graph: one line naming them all, not a line each
    from quantrack.methods import ALL_METHODS, get_method

    flat = " ".join(captured.out.split())  # lines wrap at words
    assert flat.count("does not apply to an ONNX model") == 1, captured.out
    torch_only = [m for m in ALL_METHODS if not get_method(m).onnx_graph]
    assert len(torch_only) >= 9
    assert f"not run: {', '.join(torch_only)} — does not apply to an ONNX model" in flat


def test_label_names_map_to_output_indices_and_a_calibration_file_is_used(user_files, run_cli, sqlite_uri,
                                                                           tmp_path, capsys):
    d, X, y = user_files
    code = run_cli("compare", str(d / "users.onnx"), "--dataset", str(d / "named.csv"), "--class-names",
                   ",".join(CLASSES), "--calibration", str(d / "rows.csv"), "--methods", "onnx-int8-static",
                   "--tracking-uri", sqlite_uri, "--out", str(tmp_path / "out"))
    assert code == 0, capsys.readouterr().err
    report = json.loads(next((tmp_path / "out").iterdir()).joinpath("report.json").read_text())
    assert report["variants"][0]["accuracy"] == pytest.approx(_own_accuracy(d / "users.onnx", X, y), abs=1e-12)
    assert report["config"]["calibration_source"].startswith(f"{len(X)} rows of ")


@pytest.mark.parametrize("case, expected", [
    ("not-onnx", "is not a usable ONNX model"),
    ("missing", "does not exist"),
    ("width", "expects rows of shape (10)"),
    ("names", "pass --class-names"),
    ("unknown-name", "labels not in --class-names"),
])
def test_bad_input_is_one_line_and_exit_2(user_files, run_cli, sqlite_uri, tmp_path, capsys, case, expected):
    import pandas as pd

    d, X, y = user_files
    model, data, extra = d / "users.onnx", d / "rows.csv", []
    if case == "not-onnx":
        model = tmp_path / "broken.onnx"
        model.write_bytes(b"this is not a protobuf graph")
    elif case == "missing":
        model = tmp_path / "absent.onnx"
    elif case == "width":
        data = tmp_path / "narrow.csv"
        pd.read_csv(d / "rows.csv").drop(columns=["r3"]).to_csv(data, index=False)
    elif case == "names":
        data = d / "named.csv"
    else:
        data, extra = d / "named.csv", ["--class-names", "low,mid,high"]
    code = run_cli("compare", str(model), "--dataset", str(data), "--target", "kind", *extra,
                   "--tracking-uri", sqlite_uri, "--out", str(tmp_path / "out"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("quantrack: error:") and expected in err, err
