"""Datasets: bundled sets, the split, imputation, bad input through the real CLI, and end-to-end runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantrack.data.table import BUNDLED, Table
from quantrack.data.prepare import fingerprint, prepare
from quantrack.data.load import load_table
from quantrack.errors import QuantrackError


def table(labels, X=None, name="t") -> Table:
    labels = np.asarray(labels)
    X = np.arange(len(labels) * 2, dtype=np.float64).reshape(-1, 2) if X is None else X
    return Table(name, X, labels, [f"x{i}" for i in range(X.shape[1])], "test")


# -- bundled sets ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, rows, columns, classes, image", [
    ("digits", 1797, 64, [str(i) for i in range(10)], (8, 8)),
    ("iris", 150, 4, ["setosa", "versicolor", "virginica"], None),
    ("wine", 178, 13, ["class_0", "class_1", "class_2"], None),
    ("breast_cancer", 569, 30, ["benign", "malignant"], None),
])
def test_bundled_sets_keep_their_class_names_and_shape(name, rows, columns, classes, image):
    data = prepare(load_table(name))
    assert data.class_names == classes and data.image_shape == image
    assert data.fingerprint["rows"] == rows and data.fingerprint["columns"] == columns == data.n_features
    assert len(data.y_train) + len(data.y_test) == rows
    assert sum(data.fingerprint["class_counts"].values()) == rows


def test_target_with_a_bundled_set_is_refused():
    with pytest.raises(QuantrackError, match="^--target names a column of a CSV/Parquet file; iris is a bundled set"):
        load_table("iris", target="species")


def test_fingerprint_does_not_depend_on_the_chunks_it_is_hashed_in(monkeypatch):
    import quantrack.data.preprocess as pre

    t = load_table("wine")
    whole = fingerprint(t)
    monkeypatch.setattr(pre, "_CHUNK_ROWS", 7)
    assert fingerprint(t) == whole


def test_fingerprint_is_stable_and_changes_with_one_value():
    a, b = fingerprint(load_table("iris")), fingerprint(load_table("iris"))
    assert a == b and len(a["sha256"]) == 64
    t = load_table("iris")
    t.features[0, 0] += 0.1
    assert fingerprint(t)["sha256"] != a["sha256"]


# -- the split -----------------------------------------------------------------------------------------
def test_fewer_than_two_classes():
    with pytest.raises(QuantrackError, match=r"^the target needs at least two classes, found 1 \(only\)$"):
        prepare(table(["only"] * 10))


def test_class_too_small_for_a_stratified_split():
    with pytest.raises(QuantrackError, match=r"^class 'rare' has fewer than 2 rows; a stratified split needs at least 2 per class$"):
        prepare(table(["a"] * 5 + ["b"] * 5 + ["rare"]))


def test_many_singleton_classes_suggest_the_label_column_is_wrong():
    with pytest.raises(QuantrackError) as e:
        prepare(table([f"id{i}" for i in range(30)] + ["id0"]))
    assert str(e.value).startswith("29 classes 'id1', 'id10', 'id11', 'id12', 'id13', 'id14', 'id15', 'id16' … and 21 more")
    assert "is the label column right? --target names it" in str(e.value)


def test_too_few_rows_for_the_split():
    with pytest.raises(QuantrackError, match=r"^too few rows for the split: 6 rows give 4 train / 2 test, but each side "
                                             r"needs at least one row of each of the 3 classes$"):
        prepare(table(["a", "a", "b", "b", "c", "c"]))


def _row_ids(X_scaled: np.ndarray, data) -> np.ndarray:
    """Column 0 of these tables is the row's number: undo the scaling to read it back."""
    return np.round(X_scaled[:, 0].astype(np.float64) * data.scaler_scale[0] + data.scaler_mean[0]).astype(int)


@pytest.mark.parametrize("seed", [0, 1, 42])
@pytest.mark.parametrize("n, val_size", [(40, 0.1), (200, 0.25), (1797, 0.1)])
def test_validation_rows_never_meet_the_test_rows(n, val_size, seed):
    labels = np.asarray(["a", "b", "b", "c"] * (n // 4) + ["a"] * (n % 4))
    ids = np.column_stack([np.arange(n, dtype=np.float64), np.zeros(n)])
    data = prepare(table(labels, ids), test_size=0.2, seed=seed, val_size=val_size)
    train, val = _row_ids(data.X_train, data), _row_ids(data.X_val, data)
    test = data.X_test_raw[:, 0].astype(int)
    assert not set(val) & set(test) and not set(train) & set(test) and not set(train) & set(val)
    assert sorted([*train, *val, *test]) == list(range(n))  # every row in exactly one split
    assert data.split == {"train": len(train), "val": len(val), "test": len(test)}
    assert len(val) == int(np.ceil(val_size * (len(train) + len(val))))
    # Stratified: each class's share of the validation rows is its share of the training rows, to a row.
    for c in range(3):
        share = np.mean(data.y_train == c) * len(val)
        assert abs(np.sum(data.y_val == c) - share) <= 1
    # The test rows are the ones the run without a validation split tests on: carving val changes nothing there.
    same_test = prepare(table(labels, ids), test_size=0.2, seed=seed)
    assert np.array_equal(same_test.X_test_raw, data.X_test_raw) and same_test.split["val"] == 0


def test_the_scaler_never_sees_the_validation_rows():
    n = 100
    X = np.column_stack([np.arange(n, dtype=np.float64), np.arange(n, dtype=np.float64) ** 2])
    data = prepare(table(np.asarray(["a", "b"] * (n // 2)), X), seed=3, val_size=0.2)
    fit_rows = _row_ids(data.X_train, data)
    assert data.scaler_mean[1] == pytest.approx(np.mean(X[fit_rows, 1]), rel=1e-6)
    assert abs(np.mean(data.X_val[:, 1])) > 0  # scaled with the training rows' statistics, not its own


def test_too_few_rows_for_a_validation_split():
    with pytest.raises(QuantrackError, match=r"^too few rows for a validation split: 6 training rows give 2 train / 4 "
                                             r"val, .* --checkpoint-on test$"):
        prepare(table(["a", "b", "c"] * 3), test_size=0.3, val_size=0.6)


def test_impute_mean_uses_training_rows_only():
    n = 40
    ids = np.arange(n, dtype=np.float64)
    values = ids ** 2
    values[::5] = np.nan  # 8 holes, spread across both splits
    values[3] = np.inf
    t = Table("t", np.column_stack([ids, values]), np.asarray(["a", "b"] * (n // 2)), ["id", "v"], "test", impute="mean")
    data = prepare(t, test_size=0.25, seed=0)
    train_ids = np.round(data.X_train[:, 0].astype(np.float64) * data.scaler_scale[0] + data.scaler_mean[0]).astype(int)
    raw = np.column_stack([ids, values])[train_ids, 1]
    expected = raw[np.isfinite(raw)].mean()
    assert data.impute_means[1] == pytest.approx(expected, rel=1e-6)
    all_rows = values[np.isfinite(values)].mean()
    assert abs(expected - all_rows) > 1  # the two choices differ here, so the assertion above can tell them apart
    assert np.isfinite(data.X_train).all() and np.isfinite(data.X_test_raw).all()
    test_ids = data.X_test_raw[:, 0].astype(int)
    holes = ~np.isfinite(values[test_ids])
    assert holes.any() and np.allclose(data.X_test_raw[holes, 1], expected)


def test_impute_matches_simple_imputer_on_the_training_rows(monkeypatch):
    from sklearn.impute import SimpleImputer

    import quantrack.data.preprocess as pre

    monkeypatch.setattr(pre, "_CHUNK_ROWS", 7)  # several chunks, so the chunked sums are exercised
    rng = np.random.default_rng(3)
    X = rng.normal(50, 10, size=(90, 4)).astype(np.float32)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[5, 2] = np.inf
    X[:, 3] = np.nan  # no finite value at all: filled with 0, the column kept
    labels = np.asarray(["a", "b", "c"] * 30)
    data = prepare(Table("t", X.copy(), labels, list("abcd"), "test", impute="mean"), test_size=0.3, seed=1)
    from quantrack.data.preprocess import stratified_split

    _, y = np.unique(labels, return_inverse=True)
    train_idx, test_idx = stratified_split(y, 0.3, 1)
    X64 = np.where(np.isfinite(X), X, np.nan).astype(np.float64)
    ref = SimpleImputer(strategy="mean", keep_empty_features=True).fit(X64[train_idx])
    np.testing.assert_allclose(data.impute_means, ref.statistics_, rtol=1e-6)
    np.testing.assert_array_equal(data.X_test_raw, ref.transform(X64[test_idx]).astype(np.float32))


def test_prepare_keeps_float32_and_matches_the_float64_path():
    """No upcast, no view of the table kept, and the figures of the former float64 path within float32 rounding."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(7)
    n = 600
    # Offsets and spreads far apart, a large mean over a small spread among them, and a constant column.
    X = (rng.standard_normal((n, 5)) * [1.0, 0.01, 300.0, 2.0, 0.0] + [0.0, 1000.0, -5.0, 1e4, 3.0]).astype(np.float32)
    labels = rng.integers(0, 3, n)
    t = Table("t", X, labels, list("abcde"), "test")
    data = prepare(t, test_size=0.2, seed=5)
    for a in (data.X_train, data.X_test, data.X_test_raw, data.scaler_mean, data.scaler_scale):
        assert a.dtype == np.float32
        assert not np.shares_memory(a, t.features)  # nothing returned keeps the whole table alive
    assert data.X_train.flags.c_contiguous and data.X_test.flags.c_contiguous
    np.testing.assert_array_equal(t.features, X)  # the caller's table is left as it was

    # The former path: StandardScaler's maths on float64 copies of the split, cast to float32 at the end.
    idx = np.arange(n)
    tr, te = train_test_split(idx, test_size=0.2, random_state=5, stratify=labels)
    X64 = X.astype(np.float64)
    ref = StandardScaler().fit(X64[tr])
    np.testing.assert_array_equal(data.y_train, labels[tr])
    np.testing.assert_array_equal(data.X_test_raw, X[te])  # raw rows bit-exact
    np.testing.assert_allclose(data.scaler_mean, ref.mean_.astype(np.float32), rtol=1e-7)
    np.testing.assert_allclose(data.scaler_scale, ref.scale_.astype(np.float32), rtol=1e-7)
    # Each value is rounded once to float32 from a float64 result, as before: within 1 float32 ulp of it.
    eps32 = float(np.finfo(np.float32).eps)
    for ours, rows in ((data.X_train, tr), (data.X_test, te)):
        expected = ref.transform(X64[rows])
        np.testing.assert_allclose(ours, expected, rtol=eps32, atol=eps32)


def test_prepare_makes_no_table_sized_temporary():
    """Peak allocation while preparing: the split (0.8 + 0.2 of the table) and the scaled test rows (0.2)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 64), dtype=np.float32)
    t = Table("t", X, rng.integers(0, 10, len(X)), [f"x{i}" for i in range(64)], "test")
    tracemalloc.start()  # numpy reports its buffers to tracemalloc
    try:
        base = tracemalloc.get_traced_memory()[0]
        data = prepare(t)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert data.X_train.dtype == np.float32
    # 1.2x is what is returned (X_train, X_test, X_test_raw). Beyond it: labels and indices (8 bytes
    # a row each, 0.03x) and 2 MB chunk temporaries. A float64 copy of the training rows alone is 1.6x.
    extra = (peak - 1.2 * X.nbytes) / X.nbytes
    assert extra < 0.3, f"prepare allocated {extra:.2f}x the table beyond the arrays it returns"


def test_nan_without_impute_is_refused_even_for_a_table_built_in_code():
    X = np.column_stack([np.arange(10.0), np.r_[np.nan, np.arange(9.0)]])
    with pytest.raises(QuantrackError, match="NaN or infinite feature values; pass --impute mean"):
        prepare(table(["a", "b"] * 5, X))


# -- bad input through the real CLI ------------------------------------------------------------------
def _runs(uri: str) -> list:
    """Every run in the store; none when the store was never created."""
    path = Path(uri.removeprefix("sqlite:///"))
    if not path.exists():
        return []
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    return client.search_runs([e.experiment_id for e in client.search_experiments()])


def _cli_error(run_cli, capsys, sqlite_uri, *args) -> str:
    capsys.readouterr()
    code = run_cli("run", "--epochs", "1", "--methods", "dynamic-int8", "--tracking-uri", sqlite_uri, *args)
    err = capsys.readouterr().err
    assert code == 2, err
    # Progress lines ("quantrack: loading …") may come first on a non-terminal; the error is one line, last.
    errors = [line for line in err.splitlines() if line.startswith("quantrack: error: ")]
    assert "Traceback" not in err and len(errors) == 1 and err.splitlines()[-1] == errors[0], err
    assert _runs(sqlite_uri) == []  # detected before the MLflow run started
    return errors[0].removeprefix("quantrack: error: ")


@pytest.fixture
def csv(tmp_path):
    def _write(text: str, name: str = "my.csv") -> Path:
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        return p
    return _write


def test_cli_missing_file(run_cli, capsys, sqlite_uri, tmp_path):
    assert _cli_error(run_cli, capsys, sqlite_uri, "--dataset", "nope.csv") == "data file not found: nope.csv"


def test_cli_empty_file(run_cli, capsys, sqlite_uri, csv):
    assert _cli_error(run_cli, capsys, sqlite_uri, "--dataset", str(csv(""))).endswith("is empty")


def test_cli_garbage_parquet(run_cli, capsys, sqlite_uri, csv):
    assert "as Parquet:" in _cli_error(run_cli, capsys, sqlite_uri, "--dataset", str(csv("PAR1 nope", "x.parquet")))


def test_cli_unknown_target(run_cli, capsys, sqlite_uri, csv):
    p = csv("a,b,label\n1,2,x\n")
    assert _cli_error(run_cli, capsys, sqlite_uri, "--dataset", str(p), "--target", "species") == (
        f"unknown target column 'species'; {p} has columns 'a', 'b', 'label'")


def test_cli_non_numeric_feature(run_cli, capsys, sqlite_uri, csv):
    message = _cli_error(run_cli, capsys, sqlite_uri, "--dataset", str(csv("a,b,label\n1,2,x\n1,two,y\n")))
    assert message.startswith("feature column 'b' is not numeric: 'two' at row 2")


def test_cli_nan_values(run_cli, capsys, sqlite_uri, csv):
    message = _cli_error(run_cli, capsys, sqlite_uri, "--dataset", str(csv("a,b,label\n1,,x\n1,nan,y\n1,3,x\n")))
    assert "NaN or infinite values in 1 feature column: b (2 NaN); pass --impute mean" in message


def test_cli_nan_target(run_cli, capsys, sqlite_uri, csv):
    message = _cli_error(run_cli, capsys, sqlite_uri, "--dataset", str(csv("a,label\n1,x\n2,\n")), "--impute", "mean")
    assert message == "the target column 'label' has 1 missing value (first at row 2); every row needs a label"


def test_cli_one_class(run_cli, capsys, sqlite_uri, csv):
    message = _cli_error(run_cli, capsys, sqlite_uri, "--dataset", str(csv("a,label\n1,x\n2,x\n3,x\n")))
    assert message == "the target needs at least two classes, found 1 (x)"


def test_cli_class_too_small(run_cli, capsys, sqlite_uri, csv):
    rows = "".join(f"{i},{'a' if i % 2 else 'b'}\n" for i in range(20)) + "99,rare\n"
    message = _cli_error(run_cli, capsys, sqlite_uri, "--dataset", str(csv("a,label\n" + rows)))
    assert message.startswith("class 'rare' has fewer than 2 rows")


def test_cli_too_few_rows(run_cli, capsys, sqlite_uri, csv):
    message = _cli_error(run_cli, capsys, sqlite_uri, "--dataset", str(csv("a,label\n1,x\n2,x\n3,y\n4,y\n")))
    assert message.startswith("too few rows for the split: 4 rows give 3 train / 1 test")


@pytest.mark.parametrize("dataset", ["iris", "table.csv"])
def test_cli_cnn_on_non_image_data(run_cli, capsys, sqlite_uri, csv, dataset):
    if dataset.endswith(".csv"):  # 64 numeric columns are still not known to be an 8x8 image
        cols = ",".join(f"p{i}" for i in range(64))
        dataset = str(csv(cols + ",label\n" + "".join(",".join(["1"] * 64) + f",{c}\n" for c in "ab" * 10), dataset))
    message = _cli_error(run_cli, capsys, sqlite_uri, "--dataset", dataset, "--model", "cnn")
    assert message.startswith("--model cnn applies only to square image data (such as digits)")


# -- end to end ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    """One SQLite store for the module's runs: a fresh store costs seconds of schema migrations."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def _run(run_cli, capsys, uri, out, *args, epochs: int = 3) -> dict:
    capsys.readouterr()
    config = Path(out).parent / "fast.toml"
    config.write_text("latency_budget_s = 0.05  # timing is not under test here\n")
    code = run_cli("run", "--config", str(config), "--epochs", str(epochs), "--methods", "dynamic-int8",
                   "--tracking-uri", uri, "--out", str(out), *args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    [report] = list(Path(out).glob("*/report.json"))
    return json.loads(report.read_text())


def _check_mlflow(uri: str, report: dict) -> None:
    from mlflow import MlflowClient

    run = MlflowClient(uri).get_run(report["mlflow"]["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["data.sha256"] == report["dataset"]["sha256"]
    [inp] = run.inputs.dataset_inputs
    assert inp.dataset.digest == report["dataset"]["sha256"][:32]
    assert json.loads(inp.dataset.profile)["rows"] == report["dataset"]["rows"]
    assert {t.key: t.value for t in inp.tags} == {"mlflow.data.context": "training"}
    schema = json.loads(inp.dataset.schema)["mlflow_colspec"]
    assert [c["name"] for c in schema][-1] == report["dataset"]["target"]
    assert len(schema) == report["dataset"]["columns"] + 1


@pytest.mark.slow  # the first run in a process pays the torch/MLflow imports and the store's migrations
@pytest.mark.parametrize("name", [n for n in BUNDLED if n != "mnist"])  # mnist: tests/data/test_mnist.py (a CNN, 1 epoch)
def test_end_to_end_on_each_bundled_set(run_cli, capsys, shared_store, tmp_path, name):
    report = _run(run_cli, capsys, shared_store, tmp_path / "runs", "--dataset", name)
    expected = prepare(load_table(name))
    assert report["dataset"]["sha256"] == expected.fingerprint["sha256"]
    assert report["class_names"] == expected.class_names
    assert report["dataset"]["columns"] == expected.n_features
    _check_mlflow(shared_store, report)


def _string_label_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    species = np.repeat(["cat", "dog", "owl"], 20)
    centers = {"cat": 0.0, "dog": 3.0, "owl": 6.0}
    return pd.DataFrame({
        "weight": [centers[s] + rng.normal() for s in species],
        "height": rng.normal(size=60),
        "indoor": rng.integers(0, 2, 60).astype(bool),
        "label": species,
    })


@pytest.mark.slow  # the first run in a process pays the torch/MLflow imports and the store's migrations
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_end_to_end_on_a_user_file_with_string_labels(run_cli, capsys, shared_store, tmp_path, fmt):
    df = _string_label_frame()
    path = tmp_path / f"my.{fmt}"
    df.to_csv(path, index=False) if fmt == "csv" else df.to_parquet(path, index=False)
    report = _run(run_cli, capsys, shared_store, tmp_path / "runs", "--dataset", str(path), "--target", "label",
                  "--lr", "0.5", epochs=30)
    assert report["class_names"] == ["cat", "dog", "owl"]
    ds = report["dataset"]
    assert (ds["name"], ds["rows"], ds["columns"], ds["class_counts"]) == ("my", 60, 3, {"cat": 20, "dog": 20, "owl": 20})
    assert ds["source"] == str(path.resolve())
    _check_mlflow(shared_store, report)
    fp32 = next(v for v in report["variants"] if v["name"] == "fp32")
    # The classes are far apart in weight: labels kept aligned with their rows give a near-perfect model.
    assert fp32["accuracy"] >= 0.9


@pytest.mark.slow  # the first run in a process pays the torch/MLflow imports and the store's migrations
def test_end_to_end_impute_mean(run_cli, capsys, shared_store, tmp_path):
    df = _string_label_frame()
    df.loc[[1, 7, 30], "weight"] = np.nan
    path = tmp_path / "holes.csv"
    df.to_csv(path, index=False)
    report = _run(run_cli, capsys, shared_store, tmp_path / "runs", "--dataset", str(path), "--impute", "mean")
    assert report["dataset"]["missing_values"] == {"weight": "3 NaN"}
    assert report["config"]["impute"] == "mean"


@pytest.mark.slow
def test_same_table_as_csv_or_parquet_gives_the_same_run(run_cli, capsys, shared_store, tmp_path):
    df = _string_label_frame()
    df.to_csv(tmp_path / "same.csv", index=False)
    df.to_parquet(tmp_path / "same.parquet", index=False)
    a, b = (_run(run_cli, capsys, shared_store, tmp_path / f"runs-{fmt}", "--dataset", str(tmp_path / f"same.{fmt}"))
            for fmt in ("csv", "parquet"))
    assert a["dataset"]["sha256"] == b["dataset"]["sha256"]
    assert a["val_loss"] == b["val_loss"] and a["val_loss"]  # same data, same seed: same weights at every epoch
