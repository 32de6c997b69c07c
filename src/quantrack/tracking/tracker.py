"""The MLflow implementation of :class:`quantrack.core.tracking.RunTracker`: the one class that
talks to MLflow's tracking API for a run (spool.py replays a journal, mlflow_models/ packages,
registers and serves; nothing outside tracking/ and mlflow_models/ imports MLflow).

Metrics are buffered and sent with ``MlflowClient.log_batch`` (measured: one call per
metric costs 0.7 s per 100 epochs on SQLite and ~40 s against an authenticating server;
a batch costs 0.02 s). A run that raises is marked FAILED, never left RUNNING.

Servers fail. MLflow's default retries (7, backoff factor 2, 120 s timeout) make one call to
a dead server hang for about 8 minutes, so every HTTP call quantrack makes is bounded
(:data:`HTTP_LIMITS`, set in-process before the first call; a user's own values win). The
run starts with a quick connection check (no retries, short timeout) so a missing server or
a wrong password fails in seconds, before any training. After that a lost server never stops
the run: the Tracker keeps a complete journal of the run (params, every metric point with
its step and timestamp, tags, artifacts, registry intent), goes offline at the first network
error, retries a few times at the end, and otherwise writes the journal to the spool
(see spool.py) for ``quantrack sync``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from quantrack.core.environment import env_override
from quantrack.errors import TrackingError, first_line
from quantrack.mlflow_models.connection import (CHECK_LIMITS, NO_PROGRESS_BARS, bound_http, check_database,
                                                explain, is_unreachable, redact,
                                                resolve_tracking_uri, short_reason)
from quantrack.tracking.dataset_input import dataset_input, link_inputs
from quantrack.tracking.mlflow_ui import ensure_experiment_kind, run_link, ui_tags
from quantrack.tracking.experiments import experiment_id
from quantrack.tracking.sqlite_store import creation_lock

_MAX_METRICS_PER_BATCH = 1000  # MLflow's log_batch limits
_MAX_PARAMS_PER_BATCH = 100
# At the end of an offline run: this many reconnection attempts, this many seconds apart.
END_RETRIES = 3
END_RETRY_WAIT_S = 2.0


class Tracker:
    """One MLflow run: params, buffered metrics, tags, artifacts and registry, with a full local journal."""

    def __init__(self, tracking_uri: str | None, experiment: str) -> None:
        import logging

        bound_http()
        from mlflow.tracking import MlflowClient

        # MLflow's INFO lines (database migrations, run links) would interleave with our output.
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        # MLflow logs every failed database statement with its traceback (89 lines for a read-only
        # store) before raising; quantrack reports the error itself, in one line.
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)

        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.experiment_name = experiment
        if self.tracking_uri.rstrip("/") in ("sqlite:", "sqlite:///:memory:"):
            raise TrackingError("an in-memory SQLite tracking store would vanish with the run; "
                                "name a file, e.g. sqlite:///mlflow.db")
        check_database(self.tracking_uri)  # seconds, not MLflow's ~100 s of retries
        try:
            # MLflow opens the store here, creating a new SQLite store's tables: one process at a time.
            with creation_lock(self.tracking_uri):
                self.client = MlflowClient(tracking_uri=self.tracking_uri)
        except Exception as e:  # an unknown scheme, a store MLflow no longer supports
            raise TrackingError(f"cannot use the tracking URI {redact(self.tracking_uri)}: "
                                f"{redact(first_line(e))}") from None
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self.artifact_uri: str | None = None
        self._pending: list[Any] = []
        # Everything the run logged, kept so that it can be replayed or spooled.
        self.journal: dict[str, Any] = {"params": {}, "metrics": [], "tags": {}, "artifacts": [], "datasets": [],
                                        "registry": None}
        self.offline_reason: str | None = None  # set at the first network failure after the start
        self.spooled_to: Path | None = None
        self.versions: dict[str, str] = {}
        self.aliases: dict[str, Any] | None = None  # promotion.AliasDecision as a dict, once registered
        self._registry_before: tuple[str, dict[str, Any]] | None = None  # for unregister()
        self._checked = False
        self._experiment_tags: dict[str, str] = {}
        self._named = False  # the user named the run: log_children keeps that name
        self.child_ids: dict[str, str] = {}  # variant -> child run id, once log_children has run

    @property
    def online(self) -> bool:
        return self.offline_reason is None

    # -- lifecycle ---------------------------------------------------------
    def check(self) -> None:
        """Fail fast (seconds, one line) when the server is missing or refuses the credentials."""
        from mlflow.exceptions import MlflowException

        try:
            with env_override(CHECK_LIMITS):
                exp = self.client.get_experiment_by_name(self.experiment_name)
        except MlflowException as e:
            raise TrackingError(explain(e, self.tracking_uri)) from None
        except Exception as e:  # e.g. a scheme MLflow resolves only on first use
            raise TrackingError(f"cannot use the tracking URI {redact(self.tracking_uri)}: "
                                f"{redact(first_line(e))}") from None
        self.experiment_id = exp.experiment_id if exp else None
        self._experiment_tags = dict(exp.tags or {}) if exp else {}
        _check_writable(self.tracking_uri)
        self._checked = True

    def start(self, run_name: str | None, params: dict[str, Any], tags: dict[str, str] | None = None) -> str:
        from mlflow.entities import Param
        from mlflow.exceptions import MlflowException

        from quantrack.tracking.leftovers import owner_tags

        if not self._checked:
            self.check()
        self._named = run_name is not None
        # Who runs it: if this process is killed outright, the next one can tell and mark the run KILLED.
        tags = {**(tags or {}), **owner_tags()}
        try:
            if self.experiment_id is None:
                self.experiment_id = experiment_id(self.client, self.experiment_name)
            ensure_experiment_kind(self.client, self.experiment_id, self._experiment_tags)
            tags = {**ui_tags(), **(tags or {})}
            run = self.client.create_run(self.experiment_id, run_name=run_name,
                                         tags={k: str(v) for k, v in tags.items()})
            self.run_id = run.info.run_id
            self.artifact_uri = run.info.artifact_uri
            self.journal.update(run_name=run.info.run_name, experiment_name=self.experiment_name,
                                experiment_id=self.experiment_id, run_id=self.run_id,
                                tracking_uri=redact(self.tracking_uri), start_time=run.info.start_time)
            self.journal["tags"].update({k: str(v) for k, v in tags.items()})
            values = {k: _param_value(v) for k, v in params.items()}
            self.journal["params"].update(values)
            items = [Param(k, v) for k, v in values.items()]
            for i in range(0, len(items), _MAX_PARAMS_PER_BATCH):
                self.client.log_batch(self.run_id, params=items[i:i + _MAX_PARAMS_PER_BATCH])
        except MlflowException as e:
            raise TrackingError(explain(e, self.tracking_uri)) from None
        return self.run_id

    def _send(self, call, *args, **kwargs) -> Any:
        """Call the server unless offline; the first network failure switches to offline mode."""
        if not self.online:
            return None
        try:
            return call(*args, **kwargs)
        except Exception as e:
            if not is_unreachable(e):
                raise
            self.offline_reason = short_reason(e)
            return None

    def end(self, status: str = "FINISHED", spool_root: Path | None = None) -> str:
        """Finish the run on the server; if it stays unreachable, spool it. Returns 'sent' or 'spooled'."""
        if self.run_id is None:
            return "sent"
        if status == "FINISHED":
            self.flush()
        if self.online:
            self._send(self.client.set_terminated, self.run_id, status=status)
        if self.online:
            return "sent"
        self.journal["status"] = status
        if self._reconnect():
            from quantrack.tracking.spool import upload

            upload(self.client, self.journal, base_dir=None)
            return "sent"
        from quantrack.tracking.spool import write

        self.spooled_to = write(self.journal, Path(spool_root or "runs/spool"))
        return "spooled"

    def _reconnect(self) -> bool:
        for attempt in range(END_RETRIES):
            if attempt:
                time.sleep(END_RETRY_WAIT_S)
            try:
                with env_override(CHECK_LIMITS):
                    self.client.get_run(self.run_id)
                self.offline_reason = None
                return True
            except Exception as e:
                if not is_unreachable(e):
                    raise
        return False

    def fail(self, spool_root: Path | None = None) -> None:
        """Mark the run FAILED, best effort: the original error matters more than this one."""
        if self.run_id is None:
            return
        try:
            self.flush()
        except Exception:
            pass
        if self.online:
            try:
                self._send(self.client.set_terminated, self.run_id, status="FAILED")
            except Exception:
                pass
        if not self.online and self.spooled_to is None:
            try:  # keep what was measured; sync will mark the run FAILED
                from quantrack.tracking.spool import write

                self.journal["status"] = "FAILED"
                self.journal["registry"] = None  # a failed run registers nothing, not even at sync
                self.spooled_to = write(self.journal, Path(spool_root or "runs/spool"))
            except Exception:
                pass

    # -- data --------------------------------------------------------------
    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        from mlflow.entities import Metric

        m = Metric(key, float(value), int(time.time() * 1000), int(step))
        self._pending.append(m)
        self.journal["metrics"].append([m.key, m.value, m.timestamp, m.step])

    def log_metrics(self, metrics: dict[str, float], step: int = 0) -> None:
        for k, v in metrics.items():
            if v is not None:
                self.log_metric(k, v, step)

    def flush(self) -> None:
        while self._pending and self.online:
            chunk = self._pending[:_MAX_METRICS_PER_BATCH]
            self._send(self.client.log_batch, self.run_id, metrics=chunk)
            if self.online:
                del self._pending[:len(chunk)]

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        values = {k: str(v) for k, v in tags.items()}
        self.journal["tags"].update(values)
        self._send(self.client.log_batch, self.run_id, tags=[RunTag(k, v) for k, v in values.items()])

    def log_dataset(self, name: str, fingerprint: dict[str, Any], feature_names: list[str],
                    context: str = "training") -> str | None:
        """Record the run's input table with MLflow's dataset tracking (what ``mlflow.log_input`` does).

        Journaled like everything else, so a spooled run gets its dataset input on ``sync``.
        Returns a line for the user when the schema had to be shortened to fit MLflow's limit.
        """
        from mlflow.exceptions import MlflowException

        from quantrack.tracking.dataset_input import schema_columns

        self.journal["datasets"].append([name, fingerprint, list(feature_names), context])
        datasets = [dataset_input(name, fingerprint, feature_names, context)]
        try:  # a run logging the same new dataset at the same moment is no error (see link_inputs)
            self._send(link_inputs, self.client, self.run_id, datasets)
        except MlflowException as e:
            raise TrackingError(f"MLflow at {redact(self.tracking_uri)} refused the dataset input: "
                                f"{redact(first_line(e))}") from None
        kept = schema_columns(list(feature_names), fingerprint.get("target", "label"))
        if kept < len(feature_names):
            return (f"the MLflow dataset input lists the first {kept} of {len(feature_names)} columns in its schema "
                    "(MLflow takes at most 1 MB of schema); the data.sha256 fingerprint covers them all")
        return None

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> None:
        self.journal["artifacts"].append([str(Path(local_dir).resolve()), artifact_path, "dir"])
        self._send(self.client.log_artifacts, self.run_id, str(local_dir), artifact_path)

    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> None:
        self.journal["artifacts"].append([str(Path(local_path).resolve()), artifact_path, "file"])
        self._send(self.client.log_artifact, self.run_id, str(local_path), artifact_path)

    def relocate(self, old: Path, new: Path) -> None:
        """The output folder was renamed: keep the journal's artifact paths valid for spooling."""
        old_s, new_s = str(Path(old).resolve()), str(Path(new).resolve())
        for a in self.journal["artifacts"]:
            if a[0] == old_s or a[0].startswith(old_s + os.sep):
                a[0] = new_s + a[0][len(old_s):]

    def log_children(self, report) -> None:
        """Each variant as a child run (variant_runs.py); journaled, so a spooled run gets them on sync."""
        from quantrack.tracking.variant_runs import child_records, parent_metrics, run_name, upload_children

        children = child_records(report, ui_tags())
        self.journal["children"] = children
        self.journal["children_time"] = int(time.time() * 1000)
        self.child_ids = self._send(upload_children, self.client, self.experiment_id, self.run_id, children,
                                    self.journal["children_time"]) or {}
        # The experiment's run list: a name that says what ran (unless the user chose one), the champion's figures.
        if not self._named:
            self.set_tags({"mlflow.runName": run_name(report)})
        self.log_metrics(parent_metrics(report))
        self.flush()

    def mark_dead_runs(self, spool_root: Path) -> list[str]:
        """Runs a killed quantrack left RUNNING in this experiment, marked KILLED (see leftovers.py)."""
        from quantrack.tracking.leftovers import mark_dead_runs_killed

        return mark_dead_runs_killed(self.client, self.experiment_id, spool_root)

    def register(self, intent: dict[str, Any]) -> dict[str, str]:
        """Register the run's pick (or every variant) and update the aliases; recorded for replay when offline.

        The registry's state is noted first, so that :meth:`unregister` can undo a registration
        that fails half-way, or a run that fails after it (the registry changes last, or not at all).
        """
        from quantrack.mlflow_models.promotion import update_aliases
        from quantrack.mlflow_models.registration import register, registry_state
        from quantrack.tracking.leftovers import REGISTRY_TAG, registry_note

        intent = {**intent, "run_link": run_link(self.tracking_uri, self.experiment_id, self.run_id)}
        self.journal["registry"] = intent
        before = self._send(registry_state, self.client, intent["name"])
        if before is None:  # offline: nothing is registered now; sync registers from the journal
            return {}
        self._registry_before = (intent["name"], before)
        try:
            # What to undo if this process is killed outright while registering (leftovers.py reads it).
            self.set_tags({REGISTRY_TAG: registry_note(intent["name"], before)})
            with env_override(NO_PROGRESS_BARS):  # a version's files are copied: no tqdm bar on stderr
                self.versions = self._send(register, self.client, self.run_id, self.artifact_uri, intent) or {}
            if self.versions:
                decision = self._send(update_aliases, self.client, intent, self.versions)
                self.aliases = decision.to_dict() if decision else None
                self._note_versions_on_children(intent["name"])
        except BaseException:
            self.unregister()
            raise
        return self.versions

    def _note_versions_on_children(self, name: str) -> None:
        """Each registered variant's child run says which model version it became (the version's own run is
        the parent, which holds the packaged model); best effort: a UI nicety, never a reason to fail."""
        from mlflow.entities import RunTag

        for variant, version in self.versions.items():
            child = self.child_ids.get(variant)
            if child is None:
                continue
            record = next((c for c in self.journal.get("children", []) if c["variant"] == variant), None)
            note = (record or {}).get("tags", {}).get("mlflow.note.content", "")
            line = (f"Registered as **models:/{name}/{version}** (the registry's *{name}*, version {version}; "
                    "the version's run is the parent, which holds the packaged model).")
            try:
                self._send(self.client.log_batch, child, tags=[RunTag("mlflow.note.content", f"{line}\n\n{note}"),
                                                               RunTag("quantrack.model_version", f"{name}/{version}")])
            except Exception:  # noqa: BLE001 - the registration itself succeeded
                pass

    def unregister(self) -> str | None:
        """Undo this run's registration, if one started; best effort. Returns a line to show on failure."""
        if self._registry_before is None or not self.online:
            return None
        from quantrack.mlflow_models.registration import rollback

        name, before = self._registry_before
        self._registry_before = None
        try:
            rollback(self.client, name, self.run_id, before)
        except Exception as e:
            return f"could not undo the registration of {name}: {redact(first_line(e))}"
        self.versions = {}
        return None

    @property
    def info(self) -> dict[str, str | None]:
        return {"tracking_uri": redact(self.tracking_uri), "experiment_id": self.experiment_id, "run_id": self.run_id}


def _check_writable(uri: str) -> None:
    """A SQLite store we may read but not write would fail at the first write, after the data is loaded."""
    from quantrack.tracking.sqlite_store import sqlite_path

    path = sqlite_path(uri)
    if path is None or not path.exists():
        return
    # SQLite writes a journal next to the database, so its folder must be writable too.
    for p in (path, path.parent):
        if not os.access(p, os.W_OK):
            raise TrackingError(f"the tracking store {redact(uri)} is read-only ({p} is not writable); "
                                "give a store you can write to with --tracking-uri")


def _param_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))
    return str(v)
