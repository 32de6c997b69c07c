"""``quantrack serve``: a default run's champion answers POST /invocations over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from mlflow_uri import tracking_uri
from servers import free_port, wait_healthy

pytestmark = [pytest.mark.server, pytest.mark.slow]

SRC = str(Path(__file__).resolve().parents[2] / "src")
NAME = "quantrack-digits-logreg"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A default-configured run (tiny: 3 epochs, dynamic-int8) and its champion behind `quantrack serve`."""
    from quantrack import pipeline
    from quantrack.config import build_config
    from quantrack.data.load import load_table
    from quantrack.data.prepare import prepare

    root = tmp_path_factory.mktemp("serve")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    cfg = build_config(epochs=3, methods="dynamic-int8", tracking_uri=uri, out=str(root / "runs"))
    report = pipeline.run(cfg)
    data = prepare(load_table("digits"), test_size=cfg.test_size, seed=cfg.seed)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = SRC
    log = open(root / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "quantrack", "serve", "--model-uri", f"models:/{NAME}@champion",
                             "--port", str(port), "--tracking-uri", uri], env=env, cwd=root, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, root / "serve.log", 90, 0.25)
        yield url, report, data, uri
    finally:
        # quantrack serve itself must take its scoring server down when told to stop.
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise AssertionError("quantrack serve did not stop on SIGTERM")
        deadline = time.perf_counter() + 10
        while _listening(port):
            assert time.perf_counter() < deadline, "the scoring server outlived quantrack serve"
            time.sleep(0.2)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"{url}/invocations", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_champion_answers_raw_rows_with_labels(served):
    import mlflow

    url, report, data, uri = served
    rows = data.X_test_raw[:50]
    status, body = _post(url, {"inputs": rows.tolist()})
    assert status == 200
    labels = np.asarray(body["predictions"])
    assert labels.shape == (50,) and set(labels) <= {int(c) for c in data.class_names}
    # The same answers as the registered champion loaded in this process.
    with tracking_uri(uri):
        local = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(rows.astype(np.float64))
    assert labels.tolist() == list(local)
    # A JSON body with integers (what curl users send for digits) works too.
    status, body = _post(url, {"inputs": [[int(v) for v in rows[0]]]})
    assert status == 200 and body["predictions"] == [local[0]]


def test_the_digits_champion_answers_integers_as_its_labels_went_in(served):
    url, _, data, _ = served
    status, body = _post(url, {"inputs": data.X_test_raw[:20].tolist()})
    assert status == 200
    assert all(type(p) is int for p in body["predictions"]), body["predictions"]  # 4, not "4"
    assert sorted(set(body["predictions"])) == sorted(set(body["predictions"]) & set(range(10)))


@pytest.mark.parametrize("content_type,payload", [
    ("text/csv", b"garbage\x00,\"unterminated\n1,2,3,4\n"),
    ("text/csv", b"\xff\xfe not csv at all"),
    ("application/json", b"{not json"),
])
def test_a_body_mlflow_cannot_parse_is_a_4xx_of_one_line_without_a_traceback(served, content_type, payload):
    url = served[0]
    req = urllib.request.Request(f"{url}/invocations", data=payload, headers={"Content-Type": content_type},
                                 method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    raw = e.value.read()
    assert 400 <= e.value.code < 500, raw[:500]
    body = json.loads(raw)
    assert "stack_trace" not in body and b"Traceback" not in raw
    assert body["message"] and "\n" not in body["message"] and body["error_code"]


def test_wrong_number_of_features_is_a_4xx_with_a_clear_message(served):
    url, _, data, _ = served
    status, body = _post(url, {"inputs": data.X_test_raw[:2, :10].tolist()})
    assert 400 <= status < 500
    assert "does not match expected shape (-1, 64)" in body["message"]


def test_non_numeric_input_is_a_4xx(served):
    url, _, _, _ = served
    status, body = _post(url, {"inputs": [["a"] * 64]})
    assert 400 <= status < 500 and body.get("message")


def test_unknown_model_is_one_line_and_exit_2(run_cli, capsys, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert run_cli("serve", "--model-uri", "models:/nope@champion", "--port", "5999", "--tracking-uri", uri) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "models:/nope@champion was not found" in err[0]


def test_the_server_finds_uvicorn_next_to_python():
    from quantrack.mlflow_models.serving import command, environment

    env = environment("sqlite:///x.db")
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert env["MLFLOW_TRACKING_URI"] == "sqlite:///x.db"
    cmd = command(5001)
    assert cmd[:3] == [sys.executable, "-m", "uvicorn"] and "--factory" in cmd
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"


@pytest.mark.parametrize("uri,fragment", [
    ("", "--model-uri must not be empty"),
    (".", "is not an MLflow model folder"),
    ("file:///etc", "is not an MLflow model folder"),
    ("file:///no/such/folder", "nor an existing path"),
    ("file://otherhost/srv/model", "names a file on another host"),
])
def test_a_model_uri_that_is_no_model_is_one_line(run_cli, capsys, tmp_path, uri, fragment):
    assert run_cli("serve", "--model-uri", uri, "--port", str(free_port())) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_a_port_in_use_is_one_line_before_anything_starts(run_cli, capsys, tmp_path):
    import socket

    model = tmp_path / "m"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert run_cli("serve", "--model-uri", str(model), "--port", str(port)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"cannot listen on 127.0.0.1:{port}" in err[0]


def test_serving_and_loading_print_no_mlflow_notice(served):
    """MLflow says "Add type hints to the `predict` method..." for a predict without them, on every load."""
    url, _, data, uri = served
    assert _post(url, {"inputs": data.X_test_raw[:1].tolist()})[0] == 200
    root = Path(uri[len("sqlite:///"):]).parent
    log = (root / "serve.log").read_text(errors="replace")
    assert "/invocations" in log or "Uvicorn" in log or "uvicorn" in log, log[-2000:]  # the log is the server's
    assert "type hint" not in log.lower(), log[-2000:]
    code = ("import mlflow, numpy as np, warnings; warnings.simplefilter('always'); "
            f"mlflow.set_tracking_uri({uri!r}); m = mlflow.pyfunc.load_model('models:/{NAME}@champion'); "
            "print(m.predict(np.zeros((1, 64))))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(PYTHONPATH=SRC, MLFLOW_DISABLE_TELEMETRY="true")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "type hint" not in (done.stderr + done.stdout).lower(), done.stderr[-2000:]
def test_a_large_folder_without_mlmodel_is_refused_before_anything_is_copied(run_cli, capsys, tmp_path, monkeypatch):
    import mlflow.artifacts

    big = tmp_path / "not-a-model"
    big.mkdir()
    (big / "weights.bin").write_bytes(b"\0" * 1_000_000)
    copied = []
    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", lambda *a, **k: copied.append(a) or str(big))
    for uri in (str(big), big.as_uri()):
        assert run_cli("serve", "--model-uri", uri, "--port", str(free_port())) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "is not an MLflow model folder" in err[0]
    assert copied == []


def test_a_run_artifact_that_is_no_model_is_refused_from_its_listing(run_cli, capsys, tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run = client.create_run(client.create_experiment("x", artifact_location=(tmp_path / "art").as_uri()))
    note = tmp_path / "note.txt"
    note.write_text("hello")
    client.log_artifact(run.info.run_id, str(note), "stuff")
    assert run_cli("serve", "--model-uri", f"runs:/{run.info.run_id}/stuff", "--port", str(free_port()),
                   "--tracking-uri", uri) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not an MLflow model (it has no MLmodel file)" in err[0], err


def test_a_deeply_nested_body_is_a_4xx(served):
    url = served[0]
    depth = 100_000
    body = b'{"inputs": ' + b"[" * depth + b"]" * depth + b"}"
    req = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"},
                                 method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 400 and b"nested deeper" in e.value.read()


def test_the_guard_lets_ordinary_bodies_through_unchanged():
    import asyncio

    from quantrack.mlflow_models.scoring_app import MAX_DEPTH, guard, too_deep

    assert not too_deep(b'{"inputs": [[1, 2], [3, 4]]}')
    assert not too_deep(b'{"s": "' + b"[" * 1000 + b'"}')  # brackets inside a string do not nest
    assert too_deep(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    assert not too_deep(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    rows = b'{"inputs": [' + b",".join([b"[1.0, 2.0]"] * 5000) + b"]}"
    seen = {}

    async def inner(scope, receive, send):
        seen["body"] = (await receive())["body"]

    async def receive_in_two_parts(parts=[rows[:100], rows[100:]]):
        body = parts.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(parts)}

    asyncio.run(guard(inner)({"type": "http", "method": "POST"}, receive_in_two_parts, None))
    assert seen["body"] == rows
