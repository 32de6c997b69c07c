"""CSV and Parquet files -> a Table: one label column, every other column a numeric feature.

Each way a user's file can be unusable becomes one QuantrackError line that names the file,
the column and (where there is one) an offending value and its row. All of it runs before the
MLflow run starts, so bad input leaves nothing behind. Rows are counted from 1, after the header.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import numpy as np

from quantrack.data.table import BUNDLED, Table
from quantrack.errors import QuantrackError, first_line

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_MAX_LISTED = 8  # column names shown in one error line before "… and N more"
_NO_HEADER = re.compile(r"^Unnamed: \d+$")  # pandas' name for a CSV column with an empty header


def load_file(path: str | Path, target: str | None = None, impute: str = "none") -> Table:
    """Read a CSV or Parquet file; ``target`` names the label column (default: the last one).

    With ``impute="mean"`` NaN and infinite feature values are kept in the table and filled later,
    by ``data.prepare``, with means of the *training* rows only (see there); otherwise they are refused.
    """
    p = Path(path)
    kind = _format(p, str(path))
    cols = _read(p, kind)
    if not cols.columns:
        raise QuantrackError(f"data file {p} has no columns")
    if cols.rows == 0:
        what = "a header" if kind == "csv" else "columns"
        raise QuantrackError(f"data file {p} has {what} ({_listing(list(cols.columns))}) but no data rows")
    dropped = _drop_unnamed(cols, target)
    target = _target_column(cols, target, p)
    features = [c for c in cols.columns if c != target]
    if not features:
        sep = next((c for c in ";\t|" if c in target), None)  # a European-Excel or tab-separated file read as CSV
        hint = f" (is it separated by {sep!r}? quantrack reads comma-separated files)" if sep and kind == "csv" else ""
        raise QuantrackError(f"data file {p} has only the label column {target!r}; it needs at least one feature column{hint}")
    labels = _labels(cols.column(target), target)
    X = _features(cols, features)
    del cols  # a Parquet file's columns were read one at a time; a CSV's DataFrame is freed here
    missing = _missing(X, features)
    if missing:
        empty = [c for c, n in zip(features, _nonfinite_counts(X)[0]) if n == len(X)]
        if empty:
            raise QuantrackError(f"feature column {_listing(empty)} of {p} has no values at all; drop it")
        if impute != "mean":
            raise QuantrackError(
                f"{p} has NaN or infinite values in {len(missing)} feature column{'s' if len(missing) > 1 else ''}: "
                f"{_listing([f'{c} ({d})' for c, d in missing.items()], quote=False)}; "
                "pass --impute mean to fill them with the training rows' column means, or clean the file"
            )
    return Table(name=p.stem, features=X, labels=labels, feature_names=features, source=str(p.resolve()),
                 impute=impute, missing=missing, dropped=dropped, target=target)


# -- reading ---------------------------------------------------------------------------------------
def _format(p: Path, given: str) -> str:
    if not p.exists():
        bundled = "" if p.suffix else f", and it is not a bundled dataset ({', '.join(BUNDLED)})"
        raise QuantrackError(f"data file not found: {given}{bundled}")
    if p.is_dir():
        raise QuantrackError(f"{given} is a directory; --dataset needs a .csv or .parquet file or one of {', '.join(BUNDLED)}")
    kind = FORMATS.get(p.suffix.lower())
    if kind is None:
        raise QuantrackError(f"cannot read {given}: unsupported file type {p.suffix or '(no extension)'!r}; "
                             f"use {', '.join(FORMATS)}")
    if not p.is_file():  # a pipe (reading it would wait for a writer) or a device (/dev/zero never ends)
        raise QuantrackError(f"{given} is not a regular file (a pipe or a device?); --dataset needs a .csv or "
                             ".parquet file saved on disk")
    if p.stat().st_size == 0:
        raise QuantrackError(f"data file {given} is empty")
    return kind


class _Columns:
    """A file's columns by name, each read when asked for.

    A Parquet file is read one column at a time (its footer says the names and the row count), so
    loading holds the float32 feature matrix plus one column, never the whole file decoded beside it
    (pyarrow's reader and the DataFrame it makes are each ~1.5x the float32 table). A CSV file has to
    be parsed whole; its DataFrame is kept and handed out column by column.
    """

    def __init__(self, p: Path, kind: str) -> None:
        self.path, self.kind, self.frame = p, kind, None
        if kind == "csv":
            self.frame = _guard(p, kind, _read_csv, p)
            # pandas renames a repeated header ("label", "label.1"): the names as written are checked.
            _check_unique(_guard(p, kind, _csv_header, p), p)
            self.frame.columns = [str(c) for c in self.frame.columns]
            self.columns, self.rows = list(self.frame.columns), len(self.frame)
        else:
            self.columns, self.rows = _guard(p, kind, _parquet_layout, p)
            _check_unique(self.columns, p)

    def column(self, name: str):
        if self.frame is not None:
            return self.frame[name]
        import pandas as pd
        import pyarrow as pa

        # pandas' reader, so each column gets the dtype pd.read_parquet would give it; the index
        # pandas stored (if any) is not a column and is dropped: rows are counted by position.
        # The column's buffers come from the system allocator, which hands them back to the OS when
        # the column is dropped; arrow's default pool (mimalloc) kept ~0.25x of a 1M x 64 table
        # resident after loading, through the split that follows (benchmarks/scale.py measures it).
        previous = pa.default_memory_pool()
        pa.set_memory_pool(pa.system_memory_pool())
        try:
            part = _guard(self.path, self.kind, pd.read_parquet, self.path, engine="pyarrow", columns=[name])
        finally:
            pa.set_memory_pool(previous)
        return part.iloc[:, 0].reset_index(drop=True)

    def drop(self, names: list[str]) -> None:
        self.columns = [c for c in self.columns if c not in names]


def _read(p: Path, kind: str) -> _Columns:
    return _Columns(p, kind)


def _read_csv(p: Path):
    import pandas as pd

    # index_col=False: a file whose data rows end in a stray comma must not shift every
    # column by one (pandas would otherwise take the first column as the index);
    # round_trip: numbers load bit-exactly as written, so CSV and Parquet hash alike.
    import warnings

    with warnings.catch_warnings():
        # A row with more fields than the header: pandas warns and drops the extra values.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(p, index_col=False, float_precision="round_trip")
        except pd.errors.ParserWarning as e:
            raise QuantrackError(f"data file {p} has rows with more fields than its header "
                                 f"({str(e).splitlines()[0]})") from None


def _csv_header(p: Path) -> list[str]:
    """The header row exactly as written (an empty name stays empty)."""
    import pandas as pd

    first = pd.read_csv(p, header=None, nrows=1, dtype=str, keep_default_na=False, index_col=False)
    return [str(v) for v in first.iloc[0].tolist()] if len(first) else []


def _check_unique(names: list[str], p: Path) -> None:
    """Two columns of one name: which is the label and which a feature would be a guess (pandas
    made the second "label.1" and the first, a copy of the labels, a feature: the label leaked).
    Names equal after Unicode normalization (é as one code point or as e + accent) count as equal."""
    import unicodedata

    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name:  # empty headers are pandas' "Unnamed: n" columns, handled by _drop_unnamed
            seen.setdefault(unicodedata.normalize("NFC", name), []).append(i)
    repeated = [(n, where) for n, where in seen.items() if len(where) > 1]
    if repeated:
        name, where = repeated[0]
        spelled = {names[i] for i in where}
        how = "" if len(spelled) == 1 else f" (spelled {', '.join(ascii(x) for x in sorted(spelled))})"
        more = f"; {len(repeated) - 1} more name(s) repeat too" if len(repeated) > 1 else ""
        raise QuantrackError(f"data file {p} has {len(where)} columns named {name!r}{how}, at positions "
                             f"{', '.join(str(i + 1) for i in where)}{more}; column names must be unique, so rename them")


def _parquet_layout(p: Path) -> tuple[list[str], int]:
    """Column names (the stored pandas index left out, as pd.read_parquet does) and the row count."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(p)
    schema = meta.schema_arrow
    pandas_meta = schema.pandas_metadata or {}
    index = {c for c in pandas_meta.get("index_columns", []) if isinstance(c, str)}
    return [str(c) for c in schema.names if c not in index], meta.metadata.num_rows


def _guard(p: Path, kind: str, fn, *args, **kwargs):
    """Run a reader; its failures become one QuantrackError line naming the file."""
    import pandas as pd

    try:
        return fn(*args, **kwargs)
    except pd.errors.EmptyDataError:
        raise QuantrackError(f"data file {p} is empty") from None
    except UnicodeDecodeError as e:
        raise QuantrackError(f"cannot read {p} as CSV: it is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except (ValueError, OSError, ImportError) as e:  # ParserError and pyarrow's ArrowInvalid are ValueErrors
        what = "CSV" if kind == "csv" else "Parquet"
        raise QuantrackError(f"cannot read {p} as {what}: {first_line(e)}") from None


def _drop_unnamed(cols: _Columns, target: str | None) -> list[str]:
    """Drop columns without a header that are empty or a saved row index (0..n-1 or 1..n).

    ``DataFrame.to_csv()`` without ``index=False`` writes such a counter first; a trailing comma on
    every line yields an empty one last. Kept, the counter would become a feature (and leak row
    order, often sorted by class); the empty one would become the default label.
    """
    dropped = []
    n = cols.rows
    for c in list(cols.columns):
        if c == target or not _NO_HEADER.match(c):
            continue
        col = cols.column(c)
        if col.isna().all():
            dropped.append(c)
            continue
        values = col.to_numpy()
        if values.dtype.kind in "iu" and (np.array_equal(values, np.arange(n)) or np.array_equal(values, np.arange(1, n + 1))):
            dropped.append(c)
    cols.drop(dropped)
    return dropped


def _target_column(cols: _Columns, target: str | None, p: Path) -> str:
    columns = list(cols.columns)
    if target is None:
        return columns[-1]
    if target in columns:
        return target
    import unicodedata

    # The same name typed with composed or decomposed accents (macOS file names, some editors).
    same = [c for c in columns if unicodedata.normalize("NFC", c) == unicodedata.normalize("NFC", target)]
    if len(same) == 1:
        return same[0]
    close = difflib.get_close_matches(target, columns, n=1) or [c for c in columns if c.lower() == target.lower()]
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise QuantrackError(f"unknown target column {target!r}{hint}; {p} has columns {_listing(columns)}")


# -- labels ------------------------------------------------------------------------------------------
def _labels(col, name: str) -> np.ndarray:
    """Original label values: integers stay integers (2.0 -> 2), anything else becomes its text."""
    import pandas as pd

    absent = col.isna().to_numpy()
    if absent.any():
        raise QuantrackError(f"the target column {name!r} has {int(absent.sum())} missing value"
                             f"{'s' if absent.sum() > 1 else ''} (first at row {_row(absent)}); every row needs a label")
    if pd.api.types.is_bool_dtype(col):
        return np.asarray(col.astype(str).tolist())
    if pd.api.types.is_integer_dtype(col):
        return col.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(col):
        values = col.to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values != np.round(values))
        if bad.any():
            raise QuantrackError(
                f"the target column {name!r} holds non-integer numbers ({_show(values[bad][0])} at row {_row(bad)}); "
                "quantrack trains classifiers, so labels must be classes (integers or names)"
            )
        return values.astype(np.int64)  # a float column of whole numbers: a CSV/Parquet writer's choice
    return np.asarray(col.astype(str).tolist())


# -- features ----------------------------------------------------------------------------------------
def _features(cols: _Columns, features: list[str]) -> np.ndarray:
    """The feature columns as one C-ordered float32 matrix, filled column by column.

    float32 from here on: it is what the model trains on and what a served model receives, and it
    halves the table. The matrix is allocated once and each column written into it, so loading
    holds the DataFrame plus one float32 table, never a list of column copies or a float64 table.
    """
    X = np.empty((cols.rows, len(features)), dtype=np.float32)
    bad = []
    for j, c in enumerate(features):
        values, offender = _numeric(cols.column(c))
        if offender is not None:
            bad.append((c, offender))
        elif not bad:
            X[:, j] = _as_float32(values, c)
    if bad:
        (c, (value, row)), others = bad[0], [b[0] for b in bad[1:]]
        more = f" (and {len(others)} more non-numeric column{'s' if len(others) > 1 else ''}: {_listing(others)})" if others else ""
        hint = f"; or pass --target {c} if it is the label" if len(bad) == 1 else ""
        raise QuantrackError(
            f"feature column {c!r} is not numeric: {_show(value)} at row {row}{more}; "
            f"features must be numbers, so encode or drop it{hint}"
        )
    return X


def _as_float32(values: np.ndarray, name: str) -> np.ndarray:
    """The column in float32; finite values float32 cannot hold are refused, not reported as an inf the file lacks."""
    if values.dtype == np.float32:
        return values
    with np.errstate(over="ignore"):
        cast = values.astype(np.float32)
    over = np.isinf(cast) & np.isfinite(values)
    if over.any():
        raise QuantrackError(
            f"feature column {name!r} holds {_show(values[over][0])} at row {_row(over)}, beyond float32's range "
            f"(±{float(np.finfo(np.float32).max):.4g}); quantrack trains and serves in float32, so rescale the column"
        )
    return cast


def _numeric(col) -> tuple[np.ndarray, tuple[Any, int] | None]:
    """The column as a float array (float32 stays float32), or the first value that is not a number and its row."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(col):  # True/False -> 1/0: a flag is a number to a linear model
        return col.to_numpy(dtype=np.float64), None
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_complex_dtype(col):
        # float32 columns (a Parquet file written as float32) are read without a float64 detour.
        dtype = np.float32 if col.dtype == np.float32 else np.float64
        return col.to_numpy(dtype=dtype, na_value=np.nan), None
    if pd.api.types.is_datetime64_any_dtype(col) or pd.api.types.is_timedelta64_dtype(col):
        present = col.notna().to_numpy()
        return np.empty(0), (col[present].iloc[0], _row(present))
    raw = col.astype(object)
    flags = raw.dropna()
    if len(flags) and flags.map(lambda v: isinstance(v, (bool, np.bool_))).all():
        return raw.map(lambda v: float(v) if isinstance(v, (bool, np.bool_)) else np.nan).to_numpy(np.float64), None
    # Numbers stored as text (a Parquet string column, " 1.5") are still numbers.
    converted = pd.to_numeric(raw.map(lambda v: v.strip() if isinstance(v, str) else v), errors="coerce")
    offending = (raw.notna() & converted.isna()).to_numpy()
    if offending.any():
        return np.empty(0), (raw[offending].iloc[0], _row(offending))
    return converted.to_numpy(dtype=np.float64, na_value=np.nan), None


def _missing(X: np.ndarray, names: list[str]) -> dict[str, str]:
    """Per column, a description of its NaN and infinite values ('3 NaN, 1 inf'); clean columns left out."""
    nan, inf = _nonfinite_counts(X)
    out = {}
    for c, n, i in zip(names, nan, inf):
        parts = ([f"{n} NaN"] if n else []) + ([f"{i} inf"] if i else [])
        if parts:
            out[c] = ", ".join(parts)
    return out


def _nonfinite_counts(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN and inf counts per column, in row chunks (a whole-table mask would be a quarter of the table)."""
    from quantrack.data.preprocess import chunk_rows

    nan = np.zeros(X.shape[1], dtype=np.int64)
    inf = np.zeros(X.shape[1], dtype=np.int64)
    step = chunk_rows(X)
    for lo in range(0, len(X), step):
        block = X[lo:lo + step]
        nan += np.isnan(block).sum(axis=0)
        inf += np.isinf(block).sum(axis=0)
    return nan, inf


# -- message helpers ---------------------------------------------------------------------------------
def _row(mask: np.ndarray) -> int:
    """1-based data row of the first True."""
    return int(np.flatnonzero(mask)[0]) + 1


def _show(value: Any) -> str:
    text = repr(value if not isinstance(value, np.generic) else value.item())
    return text if len(text) <= 40 else text[:37] + "..."


def _listing(items: list[str], quote: bool = True) -> str:
    shown = [repr(c) if quote else c for c in items[:_MAX_LISTED]]
    rest = len(items) - len(shown)
    return ", ".join(shown) + (f" … and {rest} more" if rest > 0 else "")
