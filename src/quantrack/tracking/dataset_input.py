"""The run's input table as an MLflow dataset input (metadata only, no rows)."""

from __future__ import annotations

from typing import Any


def dataset_input(name: str, fingerprint: dict[str, Any], feature_names: list[str], context: str = "training"):
    """The run's input table as MLflow dataset metadata (no rows are uploaded).

    A ``MetaDataset`` whose source is the file (or the scikit-learn loader), whose schema names
    the columns, and whose digest is our SHA-256. MLflow caps a digest at 36 characters, so it
    holds the first 32 hex digits (128 bits); the full hash is in the profile and in the
    ``data.sha256`` tag.
    """
    import json

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
    columns = [ColSpec(DataType.double, n) for n in feature_names]
    schema = Schema(columns + [ColSpec(DataType.string, fingerprint.get("target", "label"))])
    meta = MetaDataset(source, name=name, digest=fingerprint["sha256"][:32], schema=schema).to_dict()
    profile = {k: fingerprint[k] for k in ("sha256", "rows", "columns", "class_counts") if k in fingerprint}
    entity = Dataset(name=meta["name"], digest=meta["digest"], source_type=meta["source_type"],
                     source=meta["source"], schema=meta.get("schema"), profile=json.dumps(profile))
    return DatasetInput(entity, [InputTag(MLFLOW_DATASET_CONTEXT, context)])
