"""The run's input table as an MLflow dataset input (metadata only, no rows)."""

from __future__ import annotations

import json
from typing import Any


def dataset_input(name: str, fingerprint: dict[str, Any], feature_names: list[str], context: str = "training"):
    """The run's input table as MLflow dataset metadata (no rows are uploaded).

    A ``MetaDataset`` whose source is the file (or the scikit-learn loader), whose schema names
    the columns, and whose digest is our SHA-256. MLflow caps a digest at 36 characters, so it
    holds the first 32 hex digits (128 bits); the full hash is in the profile and in the
    ``data.sha256`` tag.
    """
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    source_text = fingerprint["source"]
    if source_text.startswith("sklearn:"):
        source = CodeDatasetSource({"mlflow.source.name": f"sklearn.datasets.load_{source_text.split(':', 1)[1]}"})
    else:
        from mlflow.data.sources import LocalArtifactDatasetSource

        source = LocalArtifactDatasetSource(source_text)
    target = fingerprint.get("target", "label")
    kept = schema_columns(feature_names, target)
    columns = [ColSpec(DataType.double, n) for n in feature_names[:kept]]
    schema = Schema(columns + [ColSpec(DataType.string, target)])
    meta = MetaDataset(source, name=name, digest=fingerprint["sha256"][:32], schema=schema).to_dict()
    profile = {k: fingerprint[k] for k in ("sha256", "rows", "columns", "class_counts") if k in fingerprint}
    if kept < len(feature_names):
        profile["schema_lists"] = f"the first {kept} of {len(feature_names)} feature columns, and the label"
    entity = Dataset(name=meta["name"], digest=meta["digest"], source_type=meta["source_type"],
                     source=meta["source"], schema=meta.get("schema"), profile=json.dumps(profile))
    return DatasetInput(entity, [InputTag(MLFLOW_DATASET_CONTEXT, context)])


def link_inputs(client, run_id: str, datasets: list) -> None:
    """Log ``datasets`` as the run's inputs, safe against runs logging the same new dataset at once.

    MLflow reads whether the dataset exists, then inserts it: two runs (terminals side by side, a
    sweep's trials, a run beside a ``sync``) can both find it missing, and the second insert breaks
    its unique key -- a 400 ``UNIQUE constraint failed`` behind a server, ``UniqueViolation`` on
    PostgreSQL. The dataset exists then, and MLflow reuses it and links it to a run once, so another
    attempt links it: idempotent, bounded (connection.retry_on_conflict).
    """
    from quantrack.mlflow_models.connection import retry_on_conflict

    retry_on_conflict(client.log_inputs, run_id, datasets=datasets)


def schema_columns(feature_names: list[str], target: str) -> int:
    """How many feature columns the dataset schema can list: all of them, unless that passes the
    size MLflow accepts for a schema (1 MB; a 100,000-column table needs ~5 MB), then the first ones
    that fit. The input is logged either way; the fingerprint covers every column."""
    from mlflow.utils.validation import MAX_DATASET_SCHEMA_SIZE

    def spec(name: str, kind: str) -> int:  # MLflow's own serialization of one column, with its ", "
        return len(json.dumps({"type": kind, "name": name, "required": True})) + 2

    # {"mlflow_colspec": [<column>, <column>, ..., <label>]}
    budget = MAX_DATASET_SCHEMA_SIZE - len('{"mlflow_colspec": []}') - spec(target, "string") + 2
    total = 0
    for i, name in enumerate(feature_names):
        total += spec(name, "double")
        if total > budget:
            return i
    return len(feature_names)
