"""The only module that talks to MLflow's tracking API (registry.py, spool.py and
pyfunc_model.py use it for their own jobs: packaging, replaying and serving).

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
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from quantrack.errors import TrackingError, first_line

_MAX_METRICS_PER_BATCH = 1000  # MLflow's log_batch limits
_MAX_PARAMS_PER_BATCH = 100
# "scheme://" and the rest of that token; everything up to its *last* "@" is user info. Taking
# the last one errs on the side of hiding: a password may itself hold "@" or "/" unescaped.
_URL_TOKEN = re.compile(r"(?<=://)[^\s'\"<>]*@")


def redact(text: str | None) -> str | None:
    """Replace ``user:password@`` in any URI inside ``text`` by ``***@``, so it can be shown or stored."""
    return _URL_TOKEN.sub("***@", text) if text else text


def resolve_tracking_uri(explicit: str | None) -> str:
    """--tracking-uri, else MLFLOW_TRACKING_URI, else MLflow's own default (./mlflow.db)."""
    import mlflow

    if explicit:
        return explicit
    return os.environ.get("MLFLOW_TRACKING_URI") or mlflow.get_tracking_uri()


# Bounds for every HTTP call to a tracking server: 2 retries 1-2 s apart, 10 s per attempt.
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
               "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
# The start-up check: one attempt, 5 s at most, so "no server" or "wrong password" is known fast.
CHECK_LIMITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
# At the end of an offline run: this many reconnection attempts, this many seconds apart.
END_RETRIES = 3
END_RETRY_WAIT_S = 2.0


def bound_http() -> None:
    """Give MLflow's HTTP client bounded retries and timeouts (read by MLflow on every call)."""
    for k, v in HTTP_LIMITS.items():
        os.environ.setdefault(k, v)
    # MLflow prints "View run ... at <url>" on stdout at every set_terminated (an extra request too);
    # quantrack prints the run id itself, and stdout is for its results.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


@contextmanager
def _env(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def is_unreachable(e: BaseException) -> bool:
    """A network failure (refused, timed out, 5xx after retries), as opposed to a refusal by the server."""
    import requests

    if isinstance(e, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError)):
        return True
    text = str(e)
    return "failed with exception" in text or "failed with timeout exception" in text


def explain(e: BaseException, uri: str) -> str:
    """One line for the user; never the credentials."""
    code = getattr(e, "error_code", "")
    where = redact(uri)
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or " 401" in str(e) or " 403" in str(e):
        return (f"MLflow at {where} refused the credentials ({code or 'HTTP 401/403'}); set "
                f"MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or ~/.netrc) to an account it accepts")
    if is_unreachable(e):
        return f"cannot reach the MLflow server at {where}: {_reason(e)}"
    return f"MLflow at {where} refused the request: {redact(first_line(e))}"


def _reason(e: BaseException) -> str:
    text = str(e)
    for marker, reason in (("Connection refused", "connection refused"), ("timed out", "timed out"),
                           ("Name or service not known", "unknown host"), ("Failed to resolve", "unknown host"),
                           ("too many", "the server answers with errors")):
        if marker in text:
            return reason
    return redact(first_line(e))


class Tracker:
    """One MLflow run: params, buffered metrics, tags, artifacts and registry, with a full local journal."""

    def __init__(self, tracking_uri: str | None, experiment: str) -> None:
        import logging

        bound_http()
        from mlflow.tracking import MlflowClient

        # MLflow's INFO lines (database migrations, run links) would interleave with our output.
        logging.getLogger("mlflow").setLevel(logging.WARNING)

        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.experiment_name = experiment
        if self.tracking_uri.rstrip("/") in ("sqlite:", "sqlite:///:memory:"):
            raise TrackingError("an in-memory SQLite tracking store would vanish with the run; "
                                "name a file, e.g. sqlite:///mlflow.db")
        try:
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
        self._checked = False

    @property
    def online(self) -> bool:
        return self.offline_reason is None

    # -- lifecycle ---------------------------------------------------------
    def check(self) -> None:
        """Fail fast (seconds, one line) when the server is missing or refuses the credentials."""
        from mlflow.exceptions import MlflowException

        try:
            with _env(CHECK_LIMITS):
                exp = self.client.get_experiment_by_name(self.experiment_name)
        except MlflowException as e:
            raise TrackingError(explain(e, self.tracking_uri)) from None
        except Exception as e:  # e.g. a scheme MLflow resolves only on first use
            raise TrackingError(f"cannot use the tracking URI {redact(self.tracking_uri)}: "
                                f"{redact(first_line(e))}") from None
        self.experiment_id = exp.experiment_id if exp else None
        self._checked = True

    def start(self, run_name: str | None, params: dict[str, Any], tags: dict[str, str] | None = None) -> str:
        from mlflow.entities import Param
        from mlflow.exceptions import MlflowException

        if not self._checked:
            self.check()
        try:
            if self.experiment_id is None:
                self.experiment_id = self.client.create_experiment(self.experiment_name)
            run = self.client.create_run(self.experiment_id, run_name=run_name,
                                         tags={k: str(v) for k, v in (tags or {}).items()})
            self.run_id = run.info.run_id
            self.artifact_uri = run.info.artifact_uri
            self.journal.update(run_name=run.info.run_name, experiment_name=self.experiment_name,
                                experiment_id=self.experiment_id, run_id=self.run_id,
                                tracking_uri=redact(self.tracking_uri), start_time=run.info.start_time)
            self.journal["tags"].update({k: str(v) for k, v in (tags or {}).items()})
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
            self.offline_reason = _reason(e)
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
            from quantrack.spool import upload

            upload(self.client, self.journal, base_dir=None)
            return "sent"
        from quantrack.spool import write

        self.spooled_to = write(self.journal, Path(spool_root or "runs/spool"))
        return "spooled"

    def _reconnect(self) -> bool:
        for attempt in range(END_RETRIES):
            if attempt:
                time.sleep(END_RETRY_WAIT_S)
            try:
                with _env(CHECK_LIMITS):
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
                from quantrack.spool import write

                self.journal["status"] = "FAILED"
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
                    context: str = "training") -> None:
        """Record the run's input table with MLflow's dataset tracking (what ``mlflow.log_input`` does).

        Journaled like everything else, so a spooled run gets its dataset input on ``sync``.
        """
        from mlflow.exceptions import MlflowException

        self.journal["datasets"].append([name, fingerprint, list(feature_names), context])
        try:
            self._send(self.client.log_inputs, self.run_id, datasets=[dataset_input(name, fingerprint, feature_names, context)])
        except MlflowException as e:
            raise TrackingError(f"MLflow at {redact(self.tracking_uri)} refused the dataset input: {redact(first_line(e))}") from None

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

    def register(self, intent: dict[str, Any]) -> dict[str, str]:
        """Register the run's pyfunc variants (see registry.py); recorded for replay when offline."""
        from quantrack.registry import register

        self.journal["registry"] = intent
        self.versions = self._send(register, self.client, self.run_id, self.artifact_uri, intent) or {}
        return self.versions

    @property
    def info(self) -> dict[str, str | None]:
        return {"tracking_uri": redact(self.tracking_uri), "experiment_id": self.experiment_id, "run_id": self.run_id}


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


def _param_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))
    return str(v)
