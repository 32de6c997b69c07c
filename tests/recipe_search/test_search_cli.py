"""`quantrack search` on the command line: refusals in one line before anything runs; an ONNX file
searched and tracked (a parent run, one child run per trial); a model trained first, as `run` does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.parametrize("args, message", [
    (["--methods", "mixed-int8"], "quantrack: error: mixed-int8 is not searched as a method"),
    (["--methods", "nope"], "quantrack: error: unknown method 'nope'"),
    (["--objective", "speed"], "quantrack: error: objective must be one of latency, size, got 'speed'"),
    (["--time-budget", "0"], "quantrack: error: time_budget_s (--time-budget) must be a positive number"),
    (["--max-trials", "0"], "quantrack: error: max_trials must be a positive integer, got 0"),
    (["--held-out", "1"], "quantrack: error: held_out (--held-out) must be a fraction between 0 and 1"),
    (["--workers", "0"], "quantrack: error: workers must be a positive integer, got 0"),
    (["--max-accuracy-drop", "150"], "quantrack: error: --max-accuracy-drop must be between 0 and 100 points"),
    (["--ray-address", "nope"], "quantrack: error: --ray-address must be HOST:PORT"),
    (["--cache", "{file}"], "quantrack: error: cache must be a folder"),
    (["users.onnx", "--model", "mlp"], "quantrack: error: --model/--hidden/--epochs/--lr train a model"),
    ([], "quantrack: error: --dataset is required"),
])
def test_bad_input_is_one_line_and_exit_2(run_cli, capsys, tmp_path, args, message):
    (tmp_path / "a-file").write_text("x")
    args = [a.replace("{file}", str(tmp_path / "a-file")) for a in args]
    data = [] if not args and message.endswith("required") else ["--dataset", "digits"]
    code = run_cli("search", *args, *data, "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}")
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory):
    import pandas as pd
    import torch
    from torch import nn

    d = tmp_path_factory.mktemp("user")
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(10, 48), nn.Tanh(), nn.Linear(48, 4)).eval()
    X = np.random.default_rng(7).normal(size=(600, 10)).astype(np.float32)
    with torch.no_grad():
        y = net(torch.from_numpy(X)).argmax(1).numpy()
    frame = pd.DataFrame(X, columns=[f"r{i}" for i in range(10)])
    frame["kind"] = y
    frame.to_csv(d / "rows.csv", index=False)
    torch.onnx.export(net, (torch.from_numpy(X[:2]),), d / "users.onnx", dynamo=False, input_names=["x"],
                      output_names=["scores"], dynamic_axes={"x": {0: "n"}, "scores": {0: "n"}})
    return d


def test_an_onnx_file_is_searched_and_each_trial_is_a_child_run(onnx_files, run_cli, capsys, tmp_path, sqlite_uri):
    d = onnx_files
    code = run_cli("search", str(d / "users.onnx"), "--dataset", str(d / "rows.csv"), "--target", "kind",
                   "--methods", "onnx-int8-dynamic,onnx-int8-static,dynamic-int8", "--objective", "size",
                   "--max-accuracy-drop", "5", "--tracking-uri", sqlite_uri, "--out", str(tmp_path / "runs"),
                   "--time-budget", "120")
    out = capsys.readouterr().out
    assert code == 0, out
    folder = next((tmp_path / "runs").iterdir())
    report = json.loads((folder / "report.json").read_text())
    s = report["search"]
    assert s["selection_rows"] + s["held_out_rows"] == 600
    by_method = {t["method"]: t for t in s["trials"]}
    assert by_method["dynamic-int8"]["status"] == "unavailable"  # a torch method on an ONNX graph
    assert by_method["onnx-int8-dynamic"]["status"] == "ok"
    assert f"{s['selection_rows']} rows chose, {s['held_out_rows']} judged" in out
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=sqlite_uri)
    exp = client.get_experiment_by_name("quantrack")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == len(s["trials"]) and all(r.info.status == "FINISHED" for r in children)
    assert parents[0].data.tags["champion"] == report["champion"]


def test_a_model_trained_first_as_run_trains_it(run_cli, capsys, tmp_path):
    code = run_cli("search", "--dataset", "iris", "--model", "mlp", "--hidden", "16", "--epochs", "3",
                   "--methods", "dynamic-int8", "--no-tracking", "--out", str(tmp_path / "runs"),
                   "--max-accuracy-drop", "50", "--objective", "size")
    assert code == 0, capsys.readouterr()
    report = json.loads(next(Path(tmp_path / "runs").iterdir()).joinpath("report.json").read_text())
    assert report["search"]["selection_rows"] + report["search"]["held_out_rows"] == 30  # iris's 20 % test rows
    assert report["config"]["calibration_rows"] > 30  # the training rows calibrate
