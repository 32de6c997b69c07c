"""MLflow's scoring app (``mlflow.pyfunc.scoring_server``) behind two guards: JSON nested too deep, and
errors that carry a server traceback.

MLflow parses a request body with ``json.loads``, which raises RecursionError on deeply nested
arrays (a 100,000-deep ``[[[...]]]`` body); MLflow does not catch it, so the server answered 500.
Every input a model takes is a few levels deep, so bodies nested deeper than :data:`MAX_DEPTH`
get 400 before MLflow sees them.

MLflow answers a body it cannot parse (``text/csv`` garbage, broken JSON) with its error *and* the
server's Python traceback (``stack_trace``) and an echo of the body: a client needs one line, and the
traceback tells a stranger the server's paths and versions. Error responses keep their status and
``error_code``, with ``message`` cut to its first line and no ``stack_trace``. Everything else is
MLflow's own server, unchanged.

``quantrack serve`` runs ``uvicorn --factory quantrack.mlflow_models.scoring_app:create_app``
with the model's local folder in MLflow's own variable; importing this module loads nothing.
"""

from __future__ import annotations

import json
import os
import re

MAX_DEPTH = 100  # MLflow's formats need 2-5 levels ({"inputs": [[...]]}, images add two)
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)  # brackets inside strings do not nest
_BRACKETS = re.compile(rb"[\[\]{}]")


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when ``body`` opens more than ``limit`` arrays/objects inside one another."""
    if body.count(b"[") + body.count(b"{") <= limit:  # the usual case, at C speed
        return False
    depth = 0
    for m in _BRACKETS.finditer(_STRINGS.sub(b'""', body)):
        if m.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


MAX_MESSAGE = 500  # characters of an error's first line a client gets


def one_line_error(body: bytes) -> bytes:
    """An error response's JSON without ``stack_trace``, its message cut to one line; other bodies as they are."""
    try:
        error = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body
    if not isinstance(error, dict):
        return body
    error.pop("stack_trace", None)
    if isinstance(error.get("message"), str):
        error["message"] = _one_line(error["message"])
    return json.dumps(error).encode()


def _one_line(message: str) -> str:
    """MLflow's message without its echo of the request ("Failed to predict data '<rows>'. Error: ...",
    "... Input: <body>"), on one line."""
    if message.startswith("Failed to predict data '") and "\nError: " in message:
        message = message.split("\nError: ", 1)[1]  # the model's own reason, after MLflow's echo of the rows
    message = message.split("\nInput: ", 1)[0]
    line = " ".join(message.split())
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "…"


def _clean_errors(send):
    """``send`` for the inner app: a response with status >= 400 is held until its body is whole, then cleaned."""
    held: dict | None = None
    parts: list[bytes] = []

    async def clean(message):
        nonlocal held
        if message["type"] == "http.response.start" and message.get("status", 200) >= 400:
            held = message
            return None
        if held is not None and message["type"] == "http.response.body":
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return None
            payload = one_line_error(b"".join(parts))
            headers = [(k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"]
            await send({**held, "headers": [*headers, (b"content-length", str(len(payload)).encode())]})
            return await send({"type": "http.response.body", "body": payload})
        return await send(message)

    return clean


def guard(inner):
    """An ASGI app that answers 400 to a POST body nested deeper than MAX_DEPTH, else calls ``inner``
    with its error responses cleaned (:func:`one_line_error`)."""

    async def app(scope, receive, send):
        if scope["type"] == "http":
            send = _clean_errors(send)
        if scope["type"] != "http" or scope.get("method") != "POST":
            return await inner(scope, receive, send)
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if too_deep(body):
            payload = json.dumps({"error_code": "BAD_REQUEST",
                                  "message": f"the JSON body is nested deeper than {MAX_DEPTH} levels"}).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})
            return
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()  # after the body: disconnect notices and the like
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await inner(scope, replay, send)

    return app


def create_app():
    """What uvicorn calls in each worker: MLflow's app for the model named in MLflow's variable, guarded."""
    from mlflow.pyfunc import scoring_server

    model = scoring_server.load_model_with_mlflow_config(os.environ[scoring_server._SERVER_MODEL_PATH])
    return guard(scoring_server.init(model))
