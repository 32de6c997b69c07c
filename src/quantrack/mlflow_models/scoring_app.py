"""MLflow's scoring app (``mlflow.pyfunc.scoring_server``) behind one guard: JSON nested too deep.

MLflow parses a request body with ``json.loads``, which raises RecursionError on deeply nested
arrays (a 100,000-deep ``[[[...]]]`` body); MLflow does not catch it, so the server answered 500.
Every input a model takes is a few levels deep, so bodies nested deeper than :data:`MAX_DEPTH`
get 400 before MLflow sees them. Everything else is MLflow's own server, unchanged.

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


def guard(inner):
    """An ASGI app that answers 400 to a POST body nested deeper than MAX_DEPTH, else calls ``inner``."""

    async def app(scope, receive, send):
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
