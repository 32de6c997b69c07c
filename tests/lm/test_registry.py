"""The LM champion registered by the classifier's rules, re-created as measured, and served over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import quantrack
from quantrack.errors import QuantrackError
from mlflow_uri import tracking_uri
from servers import free_port, wait_healthy
from tests.lm.conftest import FAST, TEXT

SRC = str(Path(__file__).resolve().parents[2] / "src")
NAME = "quantrack-lm-tiny"
OPTIONS = {"methods": ["int8-weight-only"], "context": 64, "max_windows": 3, "max_new_tokens": 4,
           "latency_budget_s": FAST}


@pytest.fixture(scope="module")
def registered(tiny, tmp_path_factory):
    model, tok = tiny
    root = tmp_path_factory.mktemp("lm-registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    report = quantrack.compare_lm(model, tok, [TEXT], tracking=uri, experiment="lm", register="champion",
                                  model_name=NAME, **OPTIONS)
    with tracking_uri(uri):
        yield report, uri, root


@pytest.mark.slow
def test_the_champion_is_registered_as_challenger_and_champion(registered):
    from mlflow import MlflowClient

    report, uri, _ = registered
    assert report.champion == "int8-weight-only"  # fewer weight bytes, perplexity within 2 % on the tiny Llama
    assert report.registered_model == NAME and report.mlflow["model_versions"] == {"int8-weight-only": "1"}
    assert report.mlflow["aliases"]["champion"] == "1" and "no @champion yet" in report.mlflow["aliases"]["why"]
    mv = MlflowClient(uri).get_model_version_by_alias(NAME, "champion")
    assert mv.run_id == report.mlflow["run_id"] and mv.source.endswith("/pyfunc/int8-weight-only")
    champ = report.variant("int8-weight-only")
    assert mv.tags["quantrack.metric"] == "perplexity" and float(mv.tags["quantrack.perplexity"]) == champ.score
    assert float(mv.tags["quantrack.max_increase"]) == 0.02 and int(mv.tags["quantrack.file_bytes"]) == champ.weight_bytes
    assert "quantrack.accuracy" not in mv.tags and "perplexity increase over fp32" in mv.tags["rule"]
    assert "vs fp32 (one decode step with the KV cache, batch 1)" in mv.tags["speed-up"]
    assert mv.tags["perplexity"].startswith(f"{champ.score:.3f} (95% CI ")


@pytest.mark.slow
def test_the_registered_champion_scores_what_was_measured(registered, tiny):
    """Re-created from the registry (fp32 safetensors + the method re-applied), it has the measured perplexity."""
    import mlflow

    from quantrack.lm.corpus import make_windows
    from quantrack.lm.perplexity import score_windows

    report, _, _ = registered
    model, tok = tiny
    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    windows = make_windows(tok, [TEXT], OPTIONS["context"], max_windows=OPTIONS["max_windows"])
    assert score_windows(loaded.get_raw_model(), windows.ids).perplexity == report.variant("int8-weight-only").score
    text = loaded.predict({"prompt": "The quick brown", "max_new_tokens": 6})
    assert isinstance(text, list) and len(text) == 1 and isinstance(text[0], str) and text[0]


@pytest.mark.slow
def test_a_second_equal_run_becomes_challenger_and_leaves_champion(registered, tiny):
    """The classifier's rule: @champion moves only when the new pick beats it (same windows, same rule)."""
    from mlflow import MlflowClient

    report, uri, _ = registered
    model, tok = tiny
    again = quantrack.compare_lm(model, tok, [TEXT], tracking=uri, experiment="lm", register="champion",
                                 model_name=NAME, **OPTIONS)
    aliases = again.mlflow["aliases"]
    assert aliases["challenger"] == "2" and aliases["champion"] == "1" and not aliases["moved"]
    assert "does not beat version 1" in aliases["why"] and f"quantrack promote {NAME} 2" in aliases["why"]
    client = MlflowClient(uri)
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1"
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == "2"


@pytest.mark.parametrize("kwargs,match", [
    ({"register": "champion"}, "register needs tracking"),
    ({"register": "all", "tracking": True}, "register must be one of none, champion"),
    ({"register": "champion", "tracking": True, "model_name": "a/b"}, "cannot name a registered model"),
])
def test_a_registration_that_cannot_happen_is_refused_before_measuring(tiny, kwargs, match):
    model, tok = tiny
    with pytest.raises(QuantrackError, match=match):
        quantrack.compare_lm(model, tok, [TEXT], **{**OPTIONS, **kwargs})


def test_the_cli_refuses_register_without_a_store(run_cli, capsys, tiny_folder, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text(TEXT)
    assert run_cli("compare-lm", str(tiny_folder), "--text", str(text), "--register", "champion") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "register needs tracking" in err[0]


# -- quantrack serve -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(registered):
    report, uri, root = registered
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(PYTHONPATH=SRC, MLFLOW_DISABLE_TELEMETRY="true", HF_HUB_OFFLINE="1")
    log = open(root / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "quantrack", "serve", "--model-uri", f"models:/{NAME}@champion",
                             "--port", str(port), "--tracking-uri", uri], env=env, cwd=root, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, root / "serve.log", 150, 0.5)  # torch, transformers, torchao and MLflow imported on 2 busy cores
        yield url, root
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            raise AssertionError("quantrack serve did not stop on SIGTERM") from None


def _post(url: str, body: dict) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(f"{url}/invocations", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read()
            return r.status, json.loads(raw), raw
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw), raw


@pytest.mark.slow
@pytest.mark.server
def test_quantrack_serve_answers_a_prompt_with_generated_text(server):
    import mlflow

    url, _ = server
    status, body, _ = _post(url, {"dataframe_records": [{"prompt": "The quick brown", "max_new_tokens": 8}]})
    assert status == 200, body
    local = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(
        {"prompt": "The quick brown", "max_new_tokens": 8})
    assert body["predictions"] == local and isinstance(local[0], str) and local[0]
    # MLflow's "inputs" form; a row without max_new_tokens takes the default (the comparison's 4).
    rows = [{"prompt": "Pack my box", "max_new_tokens": 4}, {"prompt": "Pack my box"}]
    status, body, _ = _post(url, {"inputs": rows})
    assert status == 200 and body["predictions"][0] == body["predictions"][1], body
    status, body, _ = _post(url, {"inputs": {"prompt": ["The quick brown"], "max_new_tokens": [8]}})
    assert status == 200 and body["predictions"] == local, body


@pytest.mark.slow
@pytest.mark.server
@pytest.mark.parametrize("row,fragment", [
    ({"prompt": "", "max_new_tokens": 8}, "prompt must be a non-empty text"),
    ({"prompt": "The quick", "max_new_tokens": -3}, "max_new_tokens must be between 1 and 256, got -3"),
    ({"prompt": "The quick", "max_new_tokens": 100000}, "max_new_tokens must be between 1 and 256, got 100000"),
    ({"prompt": "The quick", "max_new_tokens": "eight"}, "max_new_tokens must be an integer, got 'eight'"),
    ({"prompt": "The quick", "max_new_tokens": 2.5}, "max_new_tokens must be an integer, got 2.5"),
    ({"prompt": "The quick", "max_new_tokens": 1e30}, "max_new_tokens must be between 1 and 256, got 1e+30"),
    ({"prompt": 7, "max_new_tokens": 8}, "prompt"),
    ({"max_new_tokens": 8}, "missing inputs ['prompt']"),
])
def test_bad_requests_are_a_400_of_one_line_without_a_traceback(server, row, fragment):
    url, _ = server
    status, body, raw = _post(url, {"dataframe_records": [row]})
    assert status == 400, body
    assert fragment in body["message"] and "\n" not in body["message"]
    assert "stack_trace" not in body and b"Traceback" not in raw
