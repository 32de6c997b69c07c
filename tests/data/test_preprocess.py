"""The numpy split and scaler give what scikit-learn gives, without importing it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from quantrack.data.load import load_bundled
from quantrack.data.prepare import prepare
from quantrack.data.preprocess import Standardizer, load_digits_csv, stratified_split


@pytest.mark.parametrize("seed", [0, 1, 42, 12345])
@pytest.mark.parametrize("test_size", [0.2, 0.25, 0.5, 0.33])
def test_split_is_train_test_split_stratified(seed, test_size):
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    # uneven classes, so the per-class rounding and its random tie-breaks matter
    y = np.concatenate([np.full(n, c) for c, n in enumerate([7, 13, 2, 30, 9, 9])])
    rng.shuffle(y)
    idx = np.arange(len(y))
    tr_ref, te_ref = train_test_split(idx, test_size=test_size, random_state=seed, stratify=y)
    tr, te = stratified_split(y, test_size, seed)
    np.testing.assert_array_equal(tr, tr_ref)
    np.testing.assert_array_equal(te, te_ref)


def test_digits_split_matches_sklearn():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    X, y = load_digits_csv()
    np.testing.assert_array_equal(X, d.data)
    np.testing.assert_array_equal(y, d.target)
    idx = np.arange(len(y))
    tr_ref, te_ref = train_test_split(idx, test_size=0.2, random_state=42, stratify=y)
    tr, te = stratified_split(y, 0.2, 42)
    np.testing.assert_array_equal(tr, tr_ref)
    np.testing.assert_array_equal(te, te_ref)


def test_standardizer_matches_standard_scaler_with_constant_columns():
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal(5, 3, size=(200, 6))
    X[:, 2] = 7.0  # constant: scaled by 1, like sklearn
    X[:, 4] = 1e-9 * rng.standard_normal(200) + 3.0  # near constant
    ref, ours = StandardScaler().fit(X), Standardizer().fit(X)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-12)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-9, atol=1e-12)


def test_standardizer_on_float32_uses_float64_statistics_and_scales_in_place(monkeypatch):
    from sklearn.preprocessing import StandardScaler

    import quantrack.data.preprocess as pre

    monkeypatch.setattr(pre, "_CHUNK_ROWS", 13)  # several chunks, a short last one
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(200, 4)) * [3.0, 0.001, 50.0, 0.0] + [5.0, 1e3, -7.0, 2.0]).astype(np.float32)
    ref, ours = StandardScaler().fit(X.astype(np.float64)), Standardizer().fit(X)
    # float64 accumulators: the statistics are StandardScaler's on the same values, to float64 precision
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-12)
    assert ours.scale_[3] == 1.0  # the constant column, unscaled as in scikit-learn
    expected = ref.transform(X.astype(np.float64))
    out = ours.transform(X)
    assert out.dtype == np.float32 and out is not X
    np.testing.assert_array_equal(out, expected.astype(np.float32))  # one rounding of the float64 result
    same = ours.transform(X, out=X)
    assert same is X
    np.testing.assert_array_equal(X, out)


def test_digits_table_is_sklearns():
    import sklearn.datasets as ds

    table = load_bundled("digits")
    d = ds.load_digits()
    np.testing.assert_array_equal(table.features, d.data)
    assert table.feature_names == list(d.feature_names)
    assert table.image_shape == (8, 8)
    prepared = prepare(table, test_size=0.2, seed=42)
    assert prepared.X_train.shape == (1437, 64) and prepared.X_test.shape == (360, 64)


def test_default_data_path_does_not_import_sklearn():
    code = ("import sys; from quantrack.data import load_table, prepare; "
            "prepare(load_table('digits')); print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
