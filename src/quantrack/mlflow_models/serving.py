"""``quantrack serve``: a thin wrapper around ``mlflow models serve`` for a registered variant.

It runs the MLflow CLI of the same environment (``python -m mlflow``) with ``--env-manager
local`` (the model's requirements are this environment's), puts the environment's ``bin``
directory first on PATH (MLflow's server starts ``uvicorn`` by name and fails with
"uvicorn: not found" otherwise), and first checks that a ``models:/`` URI resolves, so a
typo or a missing alias is one clear line rather than a server traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from quantrack.errors import QuantrackError


def command(model_uri: str, port: int, host: str = "127.0.0.1", workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local",
            "--host", host, "--port", str(port), "--workers", str(workers)]


def environment(tracking_uri: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    from quantrack.tracking.connection import HTTP_LIMITS

    for k, v in HTTP_LIMITS.items():
        env.setdefault(k, v)
    return env


def check_model_uri(model_uri: str, tracking_uri: str | None) -> None:
    """Resolve ``models:/<name>@<alias>`` or ``models:/<name>/<version>`` before starting a server."""
    if not model_uri.strip():
        raise QuantrackError("--model-uri must not be empty; e.g. models:/quantrack-digits-logreg@champion")
    if not model_uri.startswith("models:/"):
        if "://" not in model_uri and not Path(model_uri).exists():
            raise QuantrackError(f"--model-uri {model_uri!r} is neither a models:/ URI nor an existing path")
        if "://" not in model_uri and not (Path(model_uri) / "MLmodel").is_file():
            raise QuantrackError(f"--model-uri {model_uri!r} is not an MLflow model folder (it has no MLmodel file)")
        return
    from mlflow.exceptions import MlflowException

    from quantrack.tracking.tracker import Tracker
    from quantrack.tracking.connection import explain

    rest = model_uri[len("models:/"):]
    tracker = Tracker(tracking_uri, "quantrack")  # bounded HTTP; the experiment is not used
    try:
        if "@" in rest:
            name, alias = rest.split("@", 1)
            tracker.client.get_model_version_by_alias(name, alias)
        elif "/" in rest:
            name, version = rest.split("/", 1)
            tracker.client.get_model_version(name, version)
        else:
            raise QuantrackError(f"--model-uri {model_uri!r} needs an alias or a version: models:/<name>@champion")
    except MlflowException as e:
        if e.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise QuantrackError(f"{model_uri} was not found in the registry at {tracker.info['tracking_uri']}: "
                                 f"{e.message.splitlines()[0] if e.message else e.error_code}") from None
        raise QuantrackError(explain(e, tracker.tracking_uri)) from None


def serve(model_uri: str, port: int, host: str = "127.0.0.1", tracking_uri: str | None = None,
          workers: int = 1) -> int:
    """Run the MLflow scoring server in the foreground until it exits or is interrupted."""
    if not 1 <= port <= 65535:
        raise QuantrackError(f"--port must be between 1 and 65535, got {port}")
    if workers < 1:
        raise QuantrackError(f"--workers must be a positive integer, got {workers}")
    check_model_uri(model_uri, tracking_uri)
    _check_can_listen(host, port)
    # Its own process group: MLflow's CLI starts uvicorn as a grandchild, and stopping quantrack
    # must stop the whole tree, not leave a server holding the port.
    proc = subprocess.Popen(command(model_uri, port, host, workers), env=environment(tracking_uri),
                            start_new_session=True)

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
