"""``quantrack serve``: MLflow's scoring server for a registered variant.

What ``mlflow models serve -m <uri> --env-manager local`` does, with two differences: the app
is MLflow's own scoring app behind a guard against JSON nested too deep to parse (see
scoring_app.py; MLflow answered 500), and the URI is checked to name a model (an ``MLmodel``
file) *before* anything is downloaded or copied, so a typo, a missing alias or ``file:///etc``
is one clear line rather than a server traceback after copying a folder. uvicorn runs from
quantrack's own environment (``python -m uvicorn``), with that environment's ``bin`` first on PATH.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from quantrack.errors import QuantrackError, first_line

APP = "quantrack.mlflow_models.scoring_app:create_app"
MODEL_PATH_VAR = "__pyfunc_model_path__"  # mlflow.pyfunc.scoring_server._SERVER_MODEL_PATH


def command(port: int, host: str = "127.0.0.1", workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "--factory", APP, "--host", host, "--port", str(port),
            "--workers", str(workers)]


def environment(tracking_uri: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    from quantrack.mlflow_models.connection import HTTP_LIMITS

    for k, v in HTTP_LIMITS.items():
        env.setdefault(k, v)
    return env


def check_model_uri(model_uri: str, tracking_uri: str | None) -> None:
    """Make sure ``model_uri`` names an MLflow model, reading listings only: nothing is downloaded."""
    if not model_uri.strip():
        raise QuantrackError("--model-uri must not be empty; e.g. models:/quantrack-digits-logreg@champion")
    local = _local_path(model_uri)
    if local is not None:
        if not local.exists():
            raise QuantrackError(f"--model-uri {model_uri!r} is neither a models:/ URI nor an existing path")
        if not (local / "MLmodel").is_file():
            raise QuantrackError(f"--model-uri {model_uri!r} is not an MLflow model folder (it has no MLmodel file)")
        return
    from mlflow.exceptions import MlflowException

    from quantrack.mlflow_models.connection import explain, redact, registry_client

    try:
        client, uri = registry_client(tracking_uri)
    except QuantrackError:
        raise
    except Exception as e:  # an unknown scheme, a store MLflow no longer supports
        raise QuantrackError(f"cannot use the tracking URI {redact(resolve_uri(tracking_uri))}: "
                             f"{redact(first_line(e))}") from None
    if model_uri.startswith("models:/"):
        _check_registered(model_uri, client, uri)
    import mlflow.artifacts

    try:
        listing = mlflow.artifacts.list_artifacts(artifact_uri=model_uri, tracking_uri=uri)
    except MlflowException as e:
        if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise QuantrackError(f"--model-uri {model_uri} cannot be read: {first_line(e)}") from None
        raise QuantrackError(explain(e, uri)) from None
    except Exception as e:  # an unsupported scheme, a missing cloud SDK, an unreachable bucket
        raise QuantrackError(f"--model-uri {model_uri} cannot be read: {type(e).__name__}: {first_line(e)}") from None
    if not any(Path(f.path).name == "MLmodel" and not f.is_dir for f in listing):
        raise QuantrackError(f"--model-uri {model_uri!r} is not an MLflow model (it has no MLmodel file)")


def _local_path(model_uri: str) -> Path | None:
    """The folder a plain path or a ``file:`` URI names; None for every other kind of URI."""
    from urllib.parse import unquote, urlparse

    if model_uri.startswith("file:"):
        parsed = urlparse(model_uri)
        if parsed.netloc not in ("", "localhost"):
            raise QuantrackError(f"--model-uri {model_uri!r} names a file on another host")
        return Path(unquote(parsed.path))
    if "://" in model_uri or model_uri.startswith(("models:", "runs:")):
        return None
    return Path(model_uri)


def resolve_uri(tracking_uri: str | None) -> str:
    from quantrack.mlflow_models.connection import resolve_tracking_uri

    return resolve_tracking_uri(tracking_uri)


def _check_registered(model_uri: str, client, uri: str) -> None:
    """Resolve ``models:/<name>@<alias>`` or ``models:/<name>/<version>`` in the registry."""
    from mlflow.exceptions import MlflowException

    from quantrack.mlflow_models.connection import explain, redact

    rest = model_uri[len("models:/"):]
    try:
        if "@" in rest:
            name, alias = rest.split("@", 1)
            client.get_model_version_by_alias(name, alias)
        elif "/" in rest:
            name, version = rest.split("/", 1)
            client.get_model_version(name, version)
        else:
            raise QuantrackError(f"--model-uri {model_uri!r} needs an alias or a version: models:/<name>@champion")
    except MlflowException as e:
        if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise QuantrackError(f"{model_uri} was not found in the registry at {redact(uri)}: "
                                 f"{e.message.splitlines()[0] if e.message else e.error_code}") from None
        raise QuantrackError(explain(e, uri)) from None


def local_model(model_uri: str, tracking_uri: str | None) -> str:
    """The model's local folder: a local one as it is (no copy), anything else downloaded once."""
    local = _local_path(model_uri)
    if local is not None:
        return str(local.resolve())
    import mlflow.artifacts

    from quantrack.mlflow_models.connection import resolve_tracking_uri

    return mlflow.artifacts.download_artifacts(artifact_uri=model_uri, tracking_uri=resolve_tracking_uri(tracking_uri))


def serve(model_uri: str, port: int, host: str = "127.0.0.1", tracking_uri: str | None = None,
          workers: int = 1) -> int:
    """Run the MLflow scoring server in the foreground until it exits or is interrupted."""
    if not 1 <= port <= 65535:
        raise QuantrackError(f"--port must be between 1 and 65535, got {port}")
    if workers < 1:
        raise QuantrackError(f"--workers must be a positive integer, got {workers}")
    check_model_uri(model_uri, tracking_uri)
    _check_can_listen(host, port)
    env = environment(tracking_uri)
    env[MODEL_PATH_VAR] = local_model(model_uri, tracking_uri)
    env.setdefault("MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT", "60")  # MLflow's default, which its CLI sets
    # Its own process group: uvicorn's workers are its children, and stopping quantrack must stop
    # the whole tree, not leave a server holding the port.
    proc = subprocess.Popen(command(port, host, workers), env=env, start_new_session=True)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return _stop(proc)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            _stop(proc)


def _check_can_listen(host: str, port: int) -> None:
    """Bind the address once ourselves, so "port in use" or a bad host is one line, not the
    scoring server's traceback seconds later."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise QuantrackError(f"--host {host!r} is not an address this machine can listen on ({e})") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind(address)
        except OSError as e:
            raise QuantrackError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def _stop(proc: subprocess.Popen) -> int:
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()
