"""What MLflow's UI reads from an experiment and a run, so quantrack's look like classic model training."""

from __future__ import annotations

# MLflow 3's UI opens an experiment without this tag in GenAI mode (calling runs "evaluation
# runs"); "custom_model_development" is its value for classic model training (mlflow's
# ExperimentKind enum in the UI bundle).
EXPERIMENT_KIND = "custom_model_development"
# MLflow 3.17's UI opens in GenAI mode unless its "GenAI / Model training" switch says otherwise, or the
# page's URL does: every link quantrack writes (a version's run link, the report's) carries this.
CLASSIC_UI = "workflowType=machine_learning"


def ui_tags() -> dict[str, str]:
    """Tags MLflow's UI shows as the run's Source and Created by."""
    import getpass

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        user = "unknown"
    return {"mlflow.source.name": "quantrack", "mlflow.source.type": "LOCAL", "mlflow.user": user}


def ensure_experiment_kind(client, experiment_id: str, tags: dict[str, str] | None = None) -> None:
    """Without ``mlflow.experimentKind`` MLflow 3's UI opens an experiment in GenAI mode; a kind already set is kept."""
    from mlflow.exceptions import MlflowException

    try:
        if tags is None:
            tags = client.get_experiment(experiment_id).tags or {}
        if "mlflow.experimentKind" not in tags:
            client.set_experiment_tag(experiment_id, "mlflow.experimentKind", EXPERIMENT_KIND)
    except MlflowException:  # e.g. a user allowed to log runs but not to edit the experiment: a UI nicety only
        pass


def run_link(tracking_uri: str, experiment_id: str | None, run_id: str | None) -> str:
    """The run's page for an HTTP server (never with user:password), else MLflow's ``runs:/`` URI."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(tracking_uri)
    if parts.scheme in ("http", "https") and experiment_id and run_id:
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port:
            netloc += f":{parts.port}"
        base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{CLASSIC_UI}"
    return f"runs:/{run_id}"
