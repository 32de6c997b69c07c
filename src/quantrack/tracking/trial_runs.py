"""A sweep's trials as child runs of the sweep's run: found by name, and given their reason when they fail.

The MLflow side of sweep/trial.py and sweep/runner.py (a trial that failed before pipeline.run
started its run still gets a FAILED child run of its own, so every trial has one).
"""

from __future__ import annotations

FAILURE_TAG = "quantrack.failure"  # the reason a trial's child run is FAILED or KILLED
TRIAL_TAG = "quantrack.trial"  # the trial's name on its child run
FAILED = "FAILED"


def child_run(client, experiment_id: str, parent_run_id: str, name: str):
    """The child run of trial ``name`` under the sweep's parent, or None."""
    runs = client.search_runs([experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}' "
                                                             f"and attributes.run_name = '{name}'", max_results=5)
    return runs[0] if runs else None


def mark_failed(tracking_uri: str | None, experiment: str, parent_run_id: str, name: str, reason: str,
                status: str = FAILED) -> None:
    """Give the trial's child run its reason (pipeline.run already marked it FAILED); a trial that
    failed before its run started gets a FAILED child run of its own, so every trial has one."""
    try:
        from mlflow.tracking import MlflowClient

        from quantrack.mlflow_models.connection import bound_http, redact

        bound_http()
        reason = redact(reason)
        client = MlflowClient(tracking_uri=tracking_uri)
        exp = client.get_experiment_by_name(experiment)
        run = child_run(client, exp.experiment_id, parent_run_id, name) if exp else None
        if run is None:
            run = client.create_run(exp.experiment_id, run_name=name,
                                    tags={"mlflow.parentRunId": parent_run_id, TRIAL_TAG: name})
        client.set_tag(run.info.run_id, FAILURE_TAG, reason[:5000])
        if run.info.status != status:
            client.set_terminated(run.info.run_id, status=status)
    except Exception:
        pass  # the trial's own error is what Tune must report; this is bookkeeping
