"""CSV/Parquet loading: one test per way a file can be bad, and round-trip properties."""

from __future__ import annotations

import os
import string
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantrack.data.prepare import fingerprint, prepare
from quantrack.errors import QuantrackError
from quantrack.data.files import load_file


def write_csv(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error_of(path, **kw) -> str:
    with pytest.raises(QuantrackError) as e:
        load_file(path, **kw)
    message = str(e.value)
    assert "\n" not in message
    return message


# -- the file itself -------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    assert error_of(tmp_path / "nope.csv") == f"data file not found: {tmp_path / 'nope.csv'}"


def test_missing_name_without_extension_mentions_the_bundled_sets():
    message = error_of("iriss")
    assert "data file not found: iriss" in message and "not a bundled dataset (digits, iris, wine, breast_cancer, mnist)" in message


def test_directory(tmp_path):
    assert "is a directory" in error_of(tmp_path)


def test_unsupported_extension(tmp_path):
    p = write_csv(tmp_path, "a,b\n1,2\n", "t.xlsx")
    assert "unsupported file type '.xlsx'" in error_of(p)


def test_empty_file(tmp_path):
    assert error_of(write_csv(tmp_path, "")) == f"data file {tmp_path / 't.csv'} is empty"


def test_blank_lines_only_file_is_empty(tmp_path):
    assert error_of(write_csv(tmp_path, "\n\n\n")).endswith("is empty")


def test_header_only_csv(tmp_path):
    assert error_of(write_csv(tmp_path, "a,b,label\n")).endswith("has a header ('a', 'b', 'label') but no data rows")


def test_not_utf8(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(b"a,b\n\xff\xfe,1\n")
    assert "is not UTF-8 text" in error_of(p)


def test_ragged_csv(tmp_path):
    message = error_of(write_csv(tmp_path, "a,b\n1,2\n1,2,3,4\n"))
    assert message.startswith(f"cannot read {tmp_path / 't.csv'} as CSV:") and "Expected 2 fields in line 3, saw 4" in message


def test_garbage_parquet(tmp_path):
    p = tmp_path / "t.parquet"
    p.write_bytes(b"this is not parquet at all, just some bytes")
    message = error_of(p)
    assert message.startswith(f"cannot read {p} as Parquet:") and "Parquet" in message.split(":", 1)[1]


def test_csv_named_parquet(tmp_path):
    p = write_csv(tmp_path, "a,b\n1,2\n", "t.parquet")
    assert f"cannot read {p} as Parquet" in error_of(p)


# -- columns ---------------------------------------------------------------------------------------
def test_unknown_target_lists_columns_and_suggests(tmp_path):
    p = write_csv(tmp_path, "a,b,label\n1,2,x\n")
    assert error_of(p, target="lable") == (f"unknown target column 'lable' (did you mean 'label'?); "
                                           f"{p} has columns 'a', 'b', 'label'")


def test_unknown_target_truncates_a_long_column_list(tmp_path):
    header = ",".join(f"pixel{i}" for i in range(50))
    message = error_of(write_csv(tmp_path, header + "\n" + ",".join(["1"] * 50) + "\n"), target="zzz")
    assert "'pixel7' … and 42 more" in message and "pixel8" not in message


def test_single_column_file_has_no_features(tmp_path):
    assert "has only the label column 'label'; it needs at least one feature column" in error_of(
        write_csv(tmp_path, "label\na\nb\n"))


def test_semicolon_separated_file_gets_a_hint(tmp_path):
    assert error_of(write_csv(tmp_path, "a;b;label\n1;2;x\n")).endswith(
        "has only the label column 'a;b;label'; it needs at least one feature column "
        "(is it separated by ';'? quantrack reads comma-separated files)")


def test_empty_parquet_table(tmp_path):
    p = tmp_path / "t.parquet"
    pd.DataFrame({"a": pd.Series([], dtype=float), "label": pd.Series([], dtype=str)}).to_parquet(p)
    assert error_of(p) == f"data file {p} has columns ('a', 'label') but no data rows"


def test_non_numeric_feature_names_column_value_and_row(tmp_path):
    p = write_csv(tmp_path, "a,colour,label\n1,2,x\n3,red,y\n")
    assert error_of(p) == ("feature column 'colour' is not numeric: 'red' at row 2; features must be numbers, "
                           "so encode or drop it; or pass --target colour if it is the label")


def test_several_non_numeric_columns_are_counted(tmp_path):
    message = error_of(write_csv(tmp_path, "name,city,a,label\nann,rome,1,x\nbob,oslo,2,y\n"))
    assert message.startswith("feature column 'name' is not numeric: 'ann' at row 1 (and 1 more non-numeric column: 'city')")


def test_string_labels_first_column_hint(tmp_path):
    # The label is the first column but the default target is the last one.
    message = error_of(write_csv(tmp_path, "species,a,b\ncat,1,2\ndog,3,4\n"))
    assert "feature column 'species' is not numeric: 'cat' at row 1" in message and "--target species" in message


def test_nan_and_inf_are_counted_per_column(tmp_path):
    p = write_csv(tmp_path, "a,b,c,label\n1,,1,x\n,inf,2,y\n3,-inf,,x\n4,,5,y\n")
    assert error_of(p) == (f"{p} has NaN or infinite values in 3 feature columns: a (1 NaN), b (2 NaN, 2 inf), "
                           "c (1 NaN); pass --impute mean to fill them with the training rows' column means, "
                           "or clean the file")


def test_value_beyond_float32_is_refused_not_reported_as_inf(tmp_path):
    p = write_csv(tmp_path, "a,b,label\n1,2,x\n3,-1e39,y\n")
    assert error_of(p) == ("feature column 'b' holds -1e+39 at row 2, beyond float32's range (±3.403e+38); "
                           "quantrack trains and serves in float32, so rescale the column")


def test_features_are_float32_whatever_the_file_stores(tmp_path):
    df = pd.DataFrame({"f32": np.array([0.1, 2.5, -3.0], dtype=np.float32), "f64": [0.1, 2.5, -3.0],
                       "i": [1, 2, 3], "flag": [True, False, True], "label": ["x", "y", "x"]})
    df.to_parquet(tmp_path / "t.parquet")
    t = load_file(tmp_path / "t.parquet")
    assert t.features.dtype == np.float32 and t.features.flags.c_contiguous
    np.testing.assert_array_equal(t.features, np.array([[0.1, 0.1, 1, 1], [2.5, 2.5, 2, 0], [-3, -3, 3, 1]], dtype=np.float32))


def test_impute_mean_accepts_nan_and_keeps_them_for_the_split(tmp_path):
    t = load_file(write_csv(tmp_path, "a,b,label\n1,,x\n2,inf,y\n3,3,x\n"), impute="mean")
    assert np.isnan(t.features[0, 1]) and np.isinf(t.features[1, 1])
    assert t.missing == {"b": "1 NaN, 1 inf"} and t.impute == "mean"


def test_all_empty_feature_column_is_refused_even_with_impute(tmp_path):
    p = write_csv(tmp_path, "a,b,label\n1,,x\n2,,y\n")
    assert error_of(p, impute="mean") == f"feature column 'b' of {p} has no values at all; drop it"


def test_missing_label(tmp_path):
    assert error_of(write_csv(tmp_path, "a,label\n1,x\n2,\n3,\n")) == (
        "the target column 'label' has 2 missing values (first at row 2); every row needs a label")


def test_missing_label_is_not_imputed(tmp_path):
    assert "missing value" in error_of(write_csv(tmp_path, "a,label\n1,x\n2,\n"), impute="mean")


def test_continuous_target_is_refused(tmp_path):
    assert error_of(write_csv(tmp_path, "a,y\n1,2\n2,0.25\n")) == (
        "the target column 'y' holds non-integer numbers (0.25 at row 2); quantrack trains classifiers, "
        "so labels must be classes (integers or names)")


def test_integer_valued_float_target_becomes_integers(tmp_path):
    t = load_file(write_csv(tmp_path, "a,y\n1,2.0\n2,0.0\n3,2.0\n"))
    assert t.labels.dtype == np.int64 and t.labels.tolist() == [2, 0, 2]
    assert fingerprint(t)["class_counts"] == {"0": 1, "2": 2}


def test_booleans_are_0_and_1_features_and_text_labels(tmp_path):
    t = load_file(write_csv(tmp_path, "flag,a,ok\nTrue,1,False\nFalse,2,True\n,3,True\n"), impute="mean")
    assert np.array_equal(t.features[:, 0], [1.0, 0.0, np.nan], equal_nan=True)
    assert t.labels.tolist() == ["False", "True", "True"]


def test_numbers_stored_as_text_in_parquet_are_numbers(tmp_path):
    p = tmp_path / "t.parquet"
    pd.DataFrame({"a": ["1.5", " 2", "3e2"], "label": ["x", "y", "x"]}).to_parquet(p)
    assert load_file(p).features[:, 0].tolist() == [1.5, 2.0, 300.0]


def test_datetime_feature_is_refused(tmp_path):
    p = tmp_path / "t.parquet"
    pd.DataFrame({"when": pd.to_datetime(["2024-01-01", "2024-02-01"]), "label": [0, 1]}).to_parquet(p)
    assert "feature column 'when' is not numeric: Timestamp('2024-01-01" in error_of(p)


def test_saved_pandas_index_is_dropped(tmp_path):
    p = tmp_path / "t.csv"
    pd.DataFrame({"a": [5.0, 6.0, 7.0], "label": ["x", "y", "x"]}).to_csv(p)  # index=True: a leading ",a,label"
    t = load_file(p)
    assert t.feature_names == ["a"] and t.dropped == ["Unnamed: 0"] and fingerprint(t)["dropped_columns"] == ["Unnamed: 0"]


def test_parquet_index_stored_by_pandas_is_not_a_feature(tmp_path):
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "label": ["x", "y", "x"]}, index=pd.Index([10, 20, 30], name="id"))
    df.to_parquet(tmp_path / "t.parquet")  # a non-range index is stored as a column, named in pandas' metadata
    t = load_file(tmp_path / "t.parquet")
    assert t.feature_names == ["a"] and t.labels.tolist() == ["x", "y", "x"]
    np.testing.assert_array_equal(t.features, [[1.0], [2.0], [3.0]])


def test_trailing_comma_column_is_dropped_so_the_label_stays_last(tmp_path):
    t = load_file(write_csv(tmp_path, "a,b,label,\n1,2,x,\n3,4,y,\n"))
    assert t.feature_names == ["a", "b"] and t.labels.tolist() == ["x", "y"] and t.dropped == ["Unnamed: 3"]


def test_data_rows_with_trailing_comma_do_not_shift_columns(tmp_path):
    t = load_file(write_csv(tmp_path, "a,b,label\n1,2,x,\n3,4,y,\n"))
    assert t.features.tolist() == [[1.0, 2.0], [3.0, 4.0]] and t.labels.tolist() == ["x", "y"]


def test_headerless_column_with_real_values_is_kept(tmp_path):
    t = load_file(write_csv(tmp_path, ",a,label\n7,1,x\n3,2,y\n"))
    assert t.feature_names == ["Unnamed: 0", "a"] and t.dropped == []


def test_explicit_target_picks_any_column(tmp_path):
    t = load_file(write_csv(tmp_path, "label,a,b\nx,1,2\ny,3,4\n"), target="label")
    assert t.feature_names == ["a", "b"] and t.labels.tolist() == ["x", "y"] and t.name == "t"
    assert fingerprint(t)["target"] == "label"


# -- properties --------------------------------------------------------------------------------------
# Labels that CSV text cannot mistake for numbers, booleans or NA markers ("NA", "nan", "True").
_labels = st.one_of(
    st.lists(st.integers(-5, 5), min_size=1, max_size=24),
    st.lists(st.text(string.ascii_letters + " _-é", min_size=1, max_size=6).map(lambda s: "L" + s), min_size=1, max_size=24),
)
_name = st.text(string.ascii_letters + string.digits + " _,\"é", min_size=1, max_size=8).map(lambda s: "f" + s)


_F32_MAX = float(np.finfo(np.float32).max)


@st.composite
def tables(draw):
    labels = draw(_labels)
    n = len(labels)
    names = draw(st.lists(_name, min_size=1, max_size=4, unique=True).filter(lambda ns: "label" not in ns))
    columns = {}
    for name in names:
        if draw(st.booleans()):
            # float32's range: the loader keeps features in float32 and refuses larger finite values
            columns[name] = draw(st.lists(st.floats(-_F32_MAX, _F32_MAX), min_size=n, max_size=n))
        else:
            columns[name] = draw(st.lists(st.one_of(st.booleans()), min_size=n, max_size=n))
    columns["label"] = labels
    return pd.DataFrame(columns)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_csv_and_parquet_load_what_was_written_with_one_fingerprint(df):
    with tempfile.TemporaryDirectory() as d:
        csv, parquet = Path(d) / "t.csv", Path(d) / "t.parquet"
        df.to_csv(csv, index=False)
        df.to_parquet(parquet, index=False)
        loaded = [load_file(csv), load_file(parquet)]
    # The loader's table is float32: each value as written, rounded once to float32.
    expected = df.drop(columns="label").to_numpy(dtype=np.float64).astype(np.float32)
    for t in loaded:
        assert t.features.dtype == np.float32 and t.features.flags.c_contiguous
        assert t.features.shape == expected.shape
        assert t.feature_names == list(df.columns[:-1])
        assert np.array_equal(t.features, expected)  # bit-exact, not approximately
        assert t.labels.tolist() == df["label"].tolist()
    a, b = (fingerprint(t) for t in loaded)
    assert a.pop("source") != b.pop("source")
    assert a == b


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0.0, 1.5, np.nan, np.inf, -np.inf]), min_size=3, max_size=3),
                min_size=2, max_size=12))
def test_missing_value_counts_match_the_table(rows):
    df = pd.DataFrame(rows, columns=["a", "b", "c"]).assign(label=[i % 2 for i in range(len(rows))])
    X = df[["a", "b", "c"]].to_numpy()
    expected = {}
    for j, c in enumerate("abc"):
        n_nan, n_inf = int(np.isnan(X[:, j]).sum()), int(np.isinf(X[:, j]).sum())
        parts = ([f"{n_nan} NaN"] if n_nan else []) + ([f"{n_inf} inf"] if n_inf else [])
        if parts and n_nan < len(rows):
            expected[c] = ", ".join(parts)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.parquet"
        df.to_parquet(p)
        all_nan = [c for j, c in enumerate("abc") if np.isnan(X[:, j]).all()]
        if all_nan:
            with pytest.raises(QuantrackError, match="has no values at all"):
                load_file(p, impute="mean")
            return
        if expected:
            with pytest.raises(QuantrackError) as e:
                load_file(p)
            for c, text in expected.items():
                assert f"{c} ({text})" in str(e.value)
        t = load_file(p, impute="mean")
    assert t.missing == expected


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 4), st.integers(4, 12), st.integers(0, 10_000))
def test_split_keeps_every_row_once_and_every_class_on_both_sides(n_classes, per_class, seed):
    rng = np.random.default_rng(seed)
    labels = np.asarray([f"c{k}" for k in range(n_classes) for _ in range(per_class)])
    from quantrack.data.table import Table

    X = np.column_stack([np.arange(len(labels), dtype=np.float64), rng.normal(size=len(labels))])
    data = prepare(Table("t", X, labels, ["id", "z"], "test"), test_size=0.25, seed=seed)
    ids = np.concatenate([data.X_train[:, 0] * data.scaler_scale[0] + data.scaler_mean[0], data.X_test_raw[:, 0]])
    assert sorted(np.round(ids).astype(int).tolist()) == list(range(len(labels)))
    assert data.class_names == [f"c{k}" for k in range(n_classes)]
    assert set(data.y_train.tolist()) == set(data.y_test.tolist()) == set(range(n_classes))


def test_a_row_with_more_fields_than_the_header_is_refused(tmp_path):
    p = write_csv(tmp_path, "x,y,label\n1,2,a,4\n3,4,b\n5,6,a\n7,8,b\n")
    assert "has rows with more fields than its header" in error_of(p)


# -- repeated and look-alike column names ----------------------------------------------------------
def test_a_repeated_label_column_is_refused_not_leaked(tmp_path):
    p = write_csv(tmp_path, "a,label,b,label\n1,x,2,x\n3,y,4,y\n5,x,6,x\n7,y,8,y\n")
    message = error_of(p, target="label")
    assert "2 columns named 'label'" in message and "positions 2, 4" in message
    assert error_of(p).startswith(f"data file {p} has 2 columns named 'label'")  # the default target too


def test_a_name_repeated_in_two_spellings_of_one_character_is_refused(tmp_path):
    p = write_csv(tmp_path, "caf\u00e9,cafe\u0301,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n")
    message = error_of(p)
    assert "2 columns named" in message and "'caf\\xe9'" in message and "'cafe\\u0301'" in message


def test_a_repeated_parquet_column_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "dup.parquet"
    pq.write_table(pa.table([pa.array([1.0, 2.0]), pa.array([3.0, 4.0]), pa.array([0, 1])], names=["a", "a", "y"]), p)
    assert "2 columns named 'a'" in error_of(p)


def test_a_target_typed_with_decomposed_accents_finds_its_column(tmp_path):
    p = write_csv(tmp_path, "x,cat\u00e9gorie\n1,a\n2,b\n3,a\n4,b\n")
    table = load_file(p, target="cate\u0301gorie")
    assert table.target == "cat\u00e9gorie" and table.feature_names == ["x"]


@pytest.mark.parametrize("make", [lambda p: os.mkfifo(p), lambda p: os.symlink("/dev/zero", p)],
                         ids=["a named pipe", "a link to /dev/zero"])
def test_a_pipe_or_a_device_named_like_a_csv_is_refused_for_what_it_is(tmp_path, make):
    from quantrack.data.files import load_file

    path = tmp_path / "data.csv"
    make(path)
    with pytest.raises(QuantrackError, match="is not a regular file"):  # before: "is empty"
        load_file(path)
