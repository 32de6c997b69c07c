"""Registered pyfunc variants: raw rows in, original labels out, nothing unpickled, idempotent registration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlflow_uri import tracking_uri

pytestmark = pytest.mark.slow

NAME = "quantrack-digits-logreg"


def _methods() -> str:
    """dynamic-int8 (torch int8) plus every ONNX method registered here: each variant kind is loaded."""
    from quantrack.methods import METHOD_NAMES

    # openvino-int8: an IR folder (.xml + .bin) as the variant's artifact, loaded by the pyfunc.
    return ",".join(["dynamic-int8", *[m for m in METHOD_NAMES if m.startswith("onnx")], "openvino-int8"])


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    from quantrack import pipeline
    from quantrack.config import build_config
    from quantrack.data.load import load_table
    from quantrack.data.prepare import prepare

    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    cfg = build_config(epochs=3, methods=_methods(), tracking_uri=uri, out=str(root / "runs"), register="all")
    report = pipeline.run(cfg)
    data = prepare(load_table("digits"), test_size=cfg.test_size, seed=cfg.seed)
    with tracking_uri(uri):
        yield report, data, uri


def _labels(data) -> np.ndarray:
    """The class labels in the type they had in the data (digits: integers), as the served model answers."""
    return np.asarray([int(c) for c in data.class_names] if data.label_kind == "integer" else data.class_names)


def _accuracy(labels, data) -> float:
    return float(np.mean(np.asarray(labels) == _labels(data)[data.y_test]))


def test_champion_alias_predicts_labels_from_raw_rows(registered):
    import mlflow

    report, data, _ = registered
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    labels = model.predict(data.X_test_raw.astype(np.float64))  # raw pixel values 0-16, not scaled
    assert set(labels) <= set(_labels(data)) and labels.dtype.kind == "i"  # digits' labels are integers
    champ = report.variant(report.champion)
    # Scaling inside the model (float32) may flip a borderline row compared with the pipeline's.
    assert _accuracy(labels, data) == pytest.approx(champ.accuracy, abs=1.5 / len(data.y_test))
    assert report.registered_model == NAME
    saved = json.loads(Path(report.out_dir, "report.json").read_text())
    assert saved["registered_model"] == NAME


def test_every_available_variant_is_a_version_that_loads(registered):
    import mlflow
    from mlflow.tracking import MlflowClient

    report, data, uri = registered
    client = MlflowClient(uri)
    versions = {v.tags["quantrack.variant"]: v for v in
                client.search_model_versions(f"name='{NAME}' and run_id='{report.mlflow['run_id']}'")}
    available = [v for v in report.variants if v.available]
    assert sorted(versions) == sorted(v.name for v in available)
    for v in available:
        mv = versions[v.name]
        assert float(mv.tags["quantrack.accuracy"]) == pytest.approx(v.accuracy, abs=1e-6)
        model = mlflow.pyfunc.load_model(f"models:/{NAME}/{mv.version}")
        acc = _accuracy(model.predict(data.X_test_raw.astype(np.float64)), data)
        assert acc == pytest.approx(v.accuracy, abs=1.5 / len(data.y_test)), v.name
    assert client.get_model_version_by_alias(NAME, "champion").version == versions[report.champion].version
    assert report.mlflow["aliases"]["champion"] == str(versions[report.champion].version)
    assert client.get_model_version_by_alias(NAME, "challenger").version == versions[report.champion].version
    assert report.mlflow["model_versions"] == {k: str(v.version) for k, v in versions.items()}


def test_wrong_width_is_a_clear_error(registered):
    import mlflow
    from mlflow.exceptions import MlflowException

    _, data, _ = registered
    model = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    with pytest.raises(MlflowException) as e:
        model.predict(data.X_test_raw[:2, :63].astype(np.float64))
    assert "(-1, 64)" in str(e.value) and e.value.error_code == "INVALID_PARAMETER_VALUE"


def test_logged_models_hold_code_and_data_only_never_a_pickle(registered):
    report, _, _ = registered
    pyfunc_dir = Path(report.out_dir, "pyfunc")
    for variant in pyfunc_dir.iterdir():
        files = [p for p in variant.rglob("*") if p.is_file()]
        assert not [p for p in files if p.suffix in (".pkl", ".pickle", ".cloudpickle")], files
        mlmodel = (variant / "MLmodel").read_text()
        assert "model_code_path" in mlmodel and "pyfunc_model.py" in mlmodel


def test_registering_again_reuses_the_versions(registered):
    from mlflow.tracking import MlflowClient

    from quantrack.mlflow_models.registration import register

    report, _, uri = registered
    client = MlflowClient(uri)
    run = client.get_run(report.mlflow["run_id"])
    before = client.search_model_versions(f"name='{NAME}'")
    intent = {"name": NAME, "champion": report.champion, "alias": "champion",
              "versions": [{"variant": v.name, "artifact_path": f"pyfunc/{v.name}", "accuracy": v.accuracy}
                           for v in report.variants if v.available]}
    versions = register(client, run.info.run_id, run.info.artifact_uri, intent)
    assert len(client.search_model_versions(f"name='{NAME}'")) == len(before)
    assert versions == report.mlflow["model_versions"]
    assert versions[report.champion] == str(client.get_model_version_by_alias(NAME, "champion").version)


def test_alias_only_for_a_champion_within_budget():
    from quantrack.core.budget import Budget
    from quantrack.mlflow_models.registration import alias_for
    from quantrack.core.results import VariantResult

    variants = [VariantResult("fp32", accuracy=0.96), VariantResult("a", accuracy=0.955),
                VariantResult("b", accuracy=0.90)]
    assert alias_for(variants, "a", Budget(0.01), ["fp32", "a", "b"]) == "champion"
    assert alias_for(variants, "fp32", Budget(0.01), ["fp32", "a", "b"]) == "champion"  # nothing fits: ship fp32
    assert alias_for(variants, "b", Budget(0.01), ["fp32", "a", "b"]) is None
    assert alias_for(variants, "a", Budget(0.01), ["fp32"]) is None  # not registered


def test_no_register_leaves_the_registry_alone(tmp_path):
    from mlflow.tracking import MlflowClient

    from quantrack import pipeline
    from quantrack.config import build_config

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    report = pipeline.run(build_config(epochs=2, methods="dynamic-int8", tracking_uri=uri, out=str(tmp_path / "runs"),
                                       register=False))
    assert report.registered_model is None
    assert MlflowClient(uri).search_registered_models() == []
    assert not Path(report.out_dir, "pyfunc").exists()


def test_bad_model_name_is_refused_before_anything_runs(run_cli, capsys, tmp_path):
    assert run_cli("run", "--model-name", "a'b", "--tracking-uri", f"sqlite:///{tmp_path / 'x.db'}") == 2
    assert "--model-name" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


def test_a_model_trained_with_impute_mean_fills_holes_in_served_rows(tmp_path):
    """The training rows' means travel inside the model; without --impute, NaN is refused."""
    import mlflow
    import pandas as pd

    from quantrack import pipeline
    from quantrack.config import build_config

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    label = np.where(x[:, 0] > 0, "up", "down")
    x[3, 1] = np.nan
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": label}).to_csv(tmp_path / "holes.csv", index=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = build_config(dataset=str(tmp_path / "holes.csv"), impute="mean", epochs=20, lr=0.1,
                       methods="dynamic-int8", tracking_uri=uri, out=str(tmp_path / "runs"))
    report = pipeline.run(cfg)
    with tracking_uri(uri):
        model = mlflow.pyfunc.load_model(f"models:/{report.registered_model}@champion")
    labels = model.predict(np.array([[2.0, np.nan, 0.0], [-2.0, np.nan, 0.0]]))
    assert list(labels) == ["up", "down"]


@pytest.mark.parametrize("name", ["a:b", "team/model", "model@v2", "a'b", "what?", "a#b", "50%", " padded", "..",
                                  "tab\there", "x" * 300])
def test_a_name_mlflow_or_a_models_uri_cannot_take_is_refused_up_front(run_cli, capsys, tmp_path, name):
    assert run_cli("run", "--model-name", name, "--tracking-uri", f"sqlite:///{tmp_path / 'x.db'}") == 2
    err = capsys.readouterr().err
    assert err.startswith("quantrack: error: --model-name") and err.count("\n") == 1
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("name", ["quantrack-digits-logreg", "My Model v2.1", "modèle_ünïcode"])
def test_ordinary_names_pass(name):
    from quantrack.mlflow_models.registration import check_model_name

    check_model_name(name)
