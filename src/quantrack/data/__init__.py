"""Data: bundled sets and CSV/Parquet files -> a Table -> a split, scaled PreparedData.

Nothing here imports torch or MLflow, so bad data is refused before they are loaded.
"""

from quantrack.data.load import load_bundled, load_table
from quantrack.data.prepare import fingerprint, prepare
from quantrack.data.table import BUNDLED, PreparedData, Table

__all__ = ["BUNDLED", "PreparedData", "Table", "fingerprint", "load_bundled", "load_table", "prepare"]
