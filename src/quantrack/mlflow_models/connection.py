"""How quantrack reaches an MLflow store: which URI, with what time limits, and one line
(never the credentials) when it cannot. The lowest MLflow module: the registry and serving here,
and tracking/ above them, all connect through it.

MLflow's default retries (7, backoff factor 2, 120 s timeout) make one call to a dead server
hang for about 8 minutes, so every HTTP call quantrack makes is bounded (:data:`HTTP_LIMITS`).
"""

from __future__ import annotations

import os
import random
import re
import time

from quantrack.errors import first_line

# "scheme://" and the rest of that token; everything up to its *last* "@" is user info. Taking
# the last one errs on the side of hiding: a password may itself hold "@" or "/" unescaped.
_URL_TOKEN = re.compile(r"(?<=://)[^\s'\"<>]*@")


# ``user:password@host`` with the scheme forgotten (MLflow refuses it, quoting it whole): a word, a
# colon not followed by "//" (that is a scheme), and no "/" before the "@".
_BARE_USERINFO = re.compile(r"(?<![\w.%+:/-])[\w.%+-]+:(?!//)[^\s'\"<>/@]*@")
# A secret passed as a query parameter (libpq and SQLAlchemy take ``?password=``, pyodbc's
# ``odbc_connect`` takes ``PWD=``, some servers ``?token=``), also URL-encoded ("=" as %3D): its value
# runs to the next separator ("&", ";", or their encodings %26 and %3B), a quote or a space.
_SECRET_PARAM = re.compile(r"(?i)(?:(?<![A-Za-z0-9_])|(?<=%3B)|(?<=%26))((?:ssl)?password|passwd|pwd|(?:access_)?token|api_?key|"
                           r"(?:client_)?secret)(=|%3D)(?:(?!%26|%3B)[^&;\s'\"<>])+")


def redact(text: str | None) -> str | None:
    """Hide credentials in any URI inside ``text`` (``user:password@`` as ``***@``, ``password=...`` as
    ``password=***``), so it can be shown or stored."""
    if not text:
        return text
    text = _BARE_USERINFO.sub("***@", _URL_TOKEN.sub("***@", text))
    return _SECRET_PARAM.sub(lambda m: f"{m[1]}{m[2]}***", text)


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
# MLflow draws a tqdm "Downloading artifacts" bar on stderr each time it copies a model's files (saving
# a pyfunc, registering a version, loading one to serve): set around those calls, restored after.
NO_PROGRESS_BARS = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def bound_http() -> None:
    """Give MLflow's HTTP client bounded retries and timeouts (read by MLflow on every call)."""
    for k, v in HTTP_LIMITS.items():
        os.environ.setdefault(k, v)
    # MLflow prints "View run ... at <url>" on stdout at every set_terminated (an extra request too);
    # quantrack prints the run id itself, and stdout is for its results.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")




def is_unreachable(e: BaseException) -> bool:
    """A network failure (refused, timed out, 5xx after retries), as opposed to a refusal by the server."""
    import requests

    if isinstance(e, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError)):
        return True
    text = str(e)
    return "failed with exception" in text or "failed with timeout exception" in text


# How each store words "that row exists already" when two writers insert the same key at once:
# MLflow's own code, SQLite, PostgreSQL, MySQL, SQL Server (a NOT NULL or foreign-key IntegrityError
# is no race, and is not retried). Behind an HTTP server the database's
# message arrives inside a 400 (BAD_REQUEST), so the text is what tells.
_CONFLICT_MARKERS = ("RESOURCE_ALREADY_EXISTS", "UNIQUE constraint failed", "duplicate key", "UniqueViolation",
                     "Duplicate entry", "Violation of UNIQUE KEY", "Violation of PRIMARY KEY",
                     "Model Version creation error")  # MLflow's own retries on the version number ran out
# Each retry after a conflict finds the row the other writer committed; one more attempt than
# racers at once is plenty (a sweep runs as many trials as cores; tests run 4 terminals).
CONFLICT_ATTEMPTS = 5
CONFLICT_WAIT_S = 0.2  # first pause, doubling, with jitter so the racers do not collide again


def is_conflict(e: BaseException) -> bool:
    """The store refused a write because another process wrote the same key first (a lost race)."""
    code = getattr(e, "error_code", "")
    text = str(e)
    return code == "RESOURCE_ALREADY_EXISTS" or any(m in text for m in _CONFLICT_MARKERS)


def retry_on_conflict(call, *args, attempts: int = CONFLICT_ATTEMPTS, **kwargs):
    """``call(*args, **kwargs)``, again after a lost race (:func:`is_conflict`), at most ``attempts`` times.

    Only for calls that are idempotent once the other writer's row exists: linking a dataset input
    (MLflow reuses the dataset with that name and digest, and links it to a run once), pointing an
    alias (an upsert). Any other error, or the last conflict, is raised.
    """
    from mlflow.exceptions import MlflowException

    for attempt in range(attempts):
        try:
            return call(*args, **kwargs)
        except MlflowException as e:
            if attempt == attempts - 1 or not is_conflict(e):
                raise
        time.sleep(CONFLICT_WAIT_S * 2 ** attempt * random.uniform(0.5, 1.5))


def explain(e: BaseException, uri: str) -> str:
    """One line for the user; never the credentials."""
    code = getattr(e, "error_code", "")
    where = redact(uri)
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or " 401" in str(e) or " 403" in str(e):
        return (f"MLflow at {where} refused the credentials ({code or 'HTTP 401/403'}); set "
                f"MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or ~/.netrc) to an account it accepts")
    if is_unreachable(e):
        return f"cannot reach the MLflow server at {where}: {short_reason(e)}"
    if "readonly database" in str(e):  # SQLite: "attempt to write a readonly database"
        return f"the tracking store {where} is read-only; give a store you can write to with --tracking-uri"
    return f"MLflow at {where} refused the request: {redact(first_line(e))}"


def short_reason(e: BaseException) -> str:
    text = str(e)
    for marker, reason in (("WRONG_VERSION_NUMBER", "it does not answer in TLS (an http:// server?)"),
                           ("CERTIFICATE_VERIFY_FAILED", "its TLS certificate failed verification"),
                           ("Connection refused", "connection refused"), ("timed out", "timed out"),
                           ("Name or service not known", "unknown host"), ("Failed to resolve", "unknown host"),
                           ("too many", "the server answers with errors")):
        if marker in text:
            return reason
    return redact(first_line(e))


# Database stores MLflow opens itself, and each driver's name for a connection time-out.
_DB_TIMEOUT_ARG = {"postgresql": "connect_timeout", "mysql": "connect_timeout", "mssql": "timeout"}
DB_CONNECT_TIMEOUT_S = 5


def check_database(uri: str, timeout_s: float = DB_CONNECT_TIMEOUT_S) -> None:
    """One bounded connection attempt to a PostgreSQL/MySQL/MSSQL store, before MLflow's own.

    MLflow opens such a store with 10 attempts over ~100 s, each logging a warning (measured:
    106 s and 46 lines for a dead port); this fails in seconds, in one line.
    """
    dialect = uri.split(":", 1)[0].split("+", 1)[0].lower()
    if dialect not in _DB_TIMEOUT_ARG:
        return
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    from quantrack.errors import TrackingError

    try:
        engine = sqlalchemy.create_engine(uri, poolclass=NullPool,
                                          connect_args={_DB_TIMEOUT_ARG[dialect]: int(timeout_s)})
    except Exception as e:  # no driver installed, a malformed URI
        hint = {"postgresql": " (pip install 'psycopg[binary]')",
                "mysql": " (pip install mysqlclient, or pymysql and a mysql+pymysql:// URI)"}.get(dialect, "")
        missing = isinstance(e, ImportError) or "Can't load plugin" in str(e)
        raise TrackingError(f"cannot use the tracking URI {redact(uri)}: {redact(first_line(e))}"
                            f"{hint if missing else ''}") from None
    try:
        with engine.connect():
            pass
    except Exception as e:
        reason = getattr(e, "orig", None) or e  # the driver's own message, without SQLAlchemy's wrapping
        raise TrackingError(f"cannot reach the database at {redact(uri)}: {redact(first_line(reason))}") from None
    finally:
        engine.dispose()


def registry_client(tracking_uri: str | None):
    """An MlflowClient for reading the registry and artifacts (serving): bounded HTTP, a checked
    database URI; runs are tracking.tracker.Tracker's job."""
    bound_http()
    from mlflow.tracking import MlflowClient

    uri = resolve_tracking_uri(tracking_uri)
    check_database(uri)
    return MlflowClient(tracking_uri=uri), uri
