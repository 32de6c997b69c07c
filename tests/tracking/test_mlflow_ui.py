"""A run as MLflow's own UI shows it, in headless Chromium against a real `mlflow server` on 127.0.0.1.

* the experiment's runs page (model-training mode): the run, its Source;
* the compare view of the child runs: every variant side by side with the same metric names;
* the artifact viewer's preview of report.html: the report's body is drawn, not only its title
  (a pixel check on the champion box's colours, which sit below the title and the summary).
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from browser import CHROMIUM, run_chromium
from servers import MlflowServer

pytestmark = [
    pytest.mark.browser, pytest.mark.server, pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package `chromium`)"),
]
CHAMPION_BOX = np.array([0xFF, 0xF6, 0xEC])  # .champion-box background in report.html
CHAMPION_BORDER = np.array([0xFF, 0x7F, 0x0E])
BASELINE_BLUE = np.array([0x1F, 0x5F, 0xA8])


def _chromium(tmp: Path, url: str, *args: str, size: str = "1600,1400") -> str:
    width, height = (int(n) for n in size.split(","))
    # MLflow's UI is a single-page app that fetches after load: a longer virtual-time budget.
    return run_chromium(tmp, url, width, height, *args, budget_ms=25000, timeout=180, hide_scrollbars=False).stdout


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    from mlflow.tracking import MlflowClient

    from quantrack import pipeline
    from quantrack.config import build_config

    root = tmp_path_factory.mktemp("mlflow-ui")
    with MlflowServer(root / "server") as server:
        cfg = build_config(epochs=3, methods="dynamic-int8,onnx-int8-dynamic", tracking_uri=server.url,
                           out=str(root / "runs"), latency_budget_s=0.05)
        report = pipeline.run(cfg)
        client = MlflowClient(server.url)
        run = client.get_run(report.mlflow["run_id"])
        children = client.search_runs([run.info.experiment_id],
                                      f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")
        yield {"url": server.url, "report": report, "run": run, "children": children, "tmp": root}


def test_the_experiment_opens_as_model_training_with_source_and_child_runs(ui):
    from mlflow.tracking import MlflowClient

    run = ui["run"]
    exp = MlflowClient(ui["url"]).get_experiment(run.info.experiment_id)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    # MLflow 3.17's UI takes the mode from its GenAI / Model training switch (or this URL parameter).
    dom = _chromium(ui["tmp"], f"{ui['url']}/#/experiments/{run.info.experiment_id}?workflowType=machine_learning",
                    "--dump-dom")
    assert run.info.run_name in dom and "quantrack" in dom
    assert "Evaluation runs" not in dom
    assert sorted(c.data.tags["quantrack.variant"] for c in ui["children"]) == \
        ["dynamic-int8", "fp32", "onnx-int8-dynamic"]
    (mv,) = MlflowClient(ui["url"]).search_model_versions("name='quantrack-digits-logreg'")
    link = f"{ui['url']}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}?workflowType=machine_learning"
    assert mv.run_link == link and mv.tags["quantrack.run_link"] == link


def test_the_compare_view_shows_the_variants_side_by_side(ui):
    ids = [c.info.run_id for c in ui["children"]]
    query = urllib.parse.urlencode({"runs": json.dumps(ids), "experiments": json.dumps([ui["run"].info.experiment_id])})
    dom = _chromium(ui["tmp"], f"{ui['url']}/#/compare-runs?{query}", "--dump-dom", size="1600,5000")
    assert "Comparing 3 Runs" in dom
    for name in ("fp32", "dynamic-int8", "onnx-int8-dynamic"):
        assert name in dom
    # One row per metric name, shared by every variant. The view renders the rows near the top of its
    # alphabetical list (it virtualizes the rest), so the names checked are early in that order.
    for metric in ("accuracy", "drop_ci_hi", "p50_us", "p50_us_b1", "p_value"):
        assert f">{metric}<" in dom, metric


def test_report_html_previews_in_the_artifact_viewer(ui):
    from matplotlib.image import imread

    run = ui["run"]
    shot = ui["tmp"] / "artifact.png"
    _chromium(ui["tmp"], f"{ui['url']}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
                         "/artifacts/report/report.html", f"--screenshot={shot}")
    pixels = (imread(shot)[..., :3] * 255).round().astype(int)

    def count(colour: np.ndarray) -> int:
        return int((np.abs(pixels - colour).sum(axis=2) < 12).sum())

    assert count(CHAMPION_BOX) > 5000  # the champion box (and row), drawn below the title and summary
    assert count(CHAMPION_BORDER) > 100  # its orange rule
    # fp32's verdict is always "baseline", in its blue: the verdict column is on screen (the other verdicts
    # are measured, so their colours are not known in advance).
    assert count(BASELINE_BLUE) > 15
