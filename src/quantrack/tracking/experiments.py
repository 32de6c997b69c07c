"""Experiments by name, safe against another process creating the same one at the same moment."""

from __future__ import annotations


def experiment_id(client, name: str) -> str:
    """The experiment's id, creating it if needed; a second process creating it meanwhile is no error."""
    from mlflow.exceptions import MlflowException

    from quantrack.mlflow_models.connection import is_conflict

    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException as e:
        if not is_conflict(e):  # RESOURCE_ALREADY_EXISTS, or the database's unique key behind a server
            raise
    exp = client.get_experiment_by_name(name)  # the other process made it: use it
    if exp is None:
        raise MlflowException(f"experiment {name!r} exists but cannot be read")
    return exp.experiment_id
