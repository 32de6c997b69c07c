"""Shared fixtures: small configs and a throw-away MLflow SQLite store per test."""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path

import pytest

# Tests never reach a real tracking server by accident, nor MLflow's telemetry endpoint
# (subprocesses the tests start inherit this).
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def run_cli(monkeypatch, tmp_path):
    """Run ``quantrack`` in-process like a user would; returns (exit code, stdout, stderr)."""
    from quantrack.cli.app import main

    def _run(*args: str, capsys=None) -> int:
        monkeypatch.chdir(tmp_path)
        try:
            main(list(args))
        except SystemExit as e:
            return int(e.code or 0)
        return 0

    return _run


@pytest.fixture
def synthetic_report():
    """A fresh copy of the hand-built Report (see _synthetic_report); tests may change it."""
    return _synthetic_report()


@pytest.fixture(scope="session")
def make_synthetic_report():
    """The builder of the hand-built Report, for module-scoped fixtures that cannot take a function-scoped one."""
    return _synthetic_report


@pytest.fixture(scope="session")
def synthetic_report_files(tmp_path_factory):
    """(directory, paths) of report.write_all on the synthetic Report; drawn once, read-only for tests."""
    from quantrack.report.writers import write_all

    directory = tmp_path_factory.mktemp("synthetic-report")
    return directory, write_all(_synthetic_report(), directory)


def _synthetic_report():
    """A hand-built Report: fp32, a smaller and slower int8 champion, and a method that could not run.

    Names and reasons hold HTML metacharacters on purpose, so the writers' escaping is exercised.
    """
    from quantrack.core.results import VariantResult
    from quantrack.core.stats import PairedStats
    from quantrack.core.results import SLOWER, Latency
    from quantrack.report.document import Report

    def lat(bs: int, p50: float) -> Latency:
        return Latency(batch_size=bs, threads=1, samples=60, p10_us=0.9 * p50, p25_us=0.95 * p50, p50_us=p50,
                       p75_us=1.05 * p50, p90_us=1.1 * p50, p99_us=1.5 * p50, stable=True)

    fp32_lat = [lat(1, 5.0), lat(360, 20.0)]
    int8_lat = [lat(1, 25.0), lat(360, 35.0)]
    for fast, slow in zip(fp32_lat, int8_lat):  # as measure.time_against would judge them
        ratio = fast.p50_us / slow.p50_us
        slow.speedup, slow.speedup_p25, slow.speedup_p75 = ratio, 0.95 * ratio, 1.05 * ratio
        slow.windows, slow.verdict = 6, SLOWER
        slow.speedup_ci = [round(0.9 * ratio, 3), round(1.1 * ratio, 3)]
        # fp32 in the same windows as the variant: the figures its own (solo) row shows
        slow.baseline_samples, slow.baseline_p50_us, slow.baseline_p90_us = 60, fast.p50_us, fast.p90_us
        slow.baseline_p99_us = fast.p99_us
    fp32_stats = PairedStats(360, 0.95, 346 / 360, (0.9357, 0.9767))
    int8_stats = PairedStats(360, 0.95, 345 / 360, (0.9325, 0.9745), drop=1 / 360, drop_ci=(-0.0061, 0.0155),
                             p_value=1.0, test="exact McNemar", discordant=(1, 0))
    eye = [[30 if i == j else 0 for j in range(3)] for i in range(3)]
    off = [row[:] for row in eye]
    off[2][1], off[2][2] = 3, 27
    variants = [
        VariantResult("fp32", accuracy=0.9611, agreement=1.0, params=650, payload_bytes=2600, file_bytes=4453,
                      payload_ratio=1.0, file_ratio=1.0, artifact="fp32.pt", latency=fp32_lat, confusion=eye,
                      stats=fp32_stats),
        VariantResult("dynamic-int8", accuracy=0.9583, agreement=0.99, params=650, payload_bytes=680,
                      file_bytes=3293, payload_ratio=0.2615, file_ratio=0.7395, artifact="dynamic-int8.pt",
                      latency=int8_lat, confusion=off, stats=int8_stats,
                      why="slower at batch 1, slower at batch 360: no VNNI here <avx2>"),
        VariantResult("onnx-int8-static", available=False, reason="needs <onnxruntime> & a calibration set"),
    ]
    return Report(
        config={"model": "logreg", "epochs": 4, "lr": 0.01, "batch_size": 32, "seed": 42, "max_accuracy_drop": 1.0,
                "prefer": "size", "confidence": 0.95, "checkpoint_on": "val"},
        dataset={"name": "digits<&>", "sha256": "ab" * 32, "source": "sklearn:digits", "rows": 1797, "columns": 64},
        best_epoch=3, train_seconds=0.25, train_loss=[2.0, 1.2, 0.8, 0.7], test_loss=[],
        variants=variants, champion="dynamic-int8", max_drop=0.01, prefer="size",
        champion_reason="smallest file within 1 point of fp32 <b>really</b>",
        class_names=["zero", "one", "two"], batch_sizes=[1, 360],
        mlflow={"run_id": "0123456789abcdef", "experiment_id": "1", "tracking_uri": "sqlite:///x.db"},
        environment={"python": "3.11", "threads": 1,
                     "cpu": {"model": "AMD EPYC", "cores": 2, "usable_cores": 2, "flags": ["avx2"],
                             "missing": ["avx512f", "avx512_vnni"], "torch_capability": "AVX2",
                             "quantized_engine": "x86", "onnxruntime": "1.32.0",
                             "onnxruntime_provider": "CPUExecutionProvider", "threads": 1}},
        split={"train": 1293, "val": 144, "test": 360}, champion_rule="point-estimate",
        val_loss=[1.8, 1.1, 0.9, 0.95], 
    )


@pytest.fixture(scope="session")
def first_run(tmp_path_factory):
    """The default `quantrack run` in a real 80x40 terminal (tests/first_run.py); once per session."""
    from first_run import TMUX, default_run_in_tmux

    if TMUX is None:
        pytest.skip("tmux not installed (Debian package `tmux`)")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return default_run_in_tmux(tmp_path_factory.mktemp("first-run"))
    # In pytest-xdist workers: the first worker to ask runs it (~40 s) in the folder all of this session's
    # workers share, the others wait on the lock and read what it saved.
    from filelock import FileLock

    from first_run import FirstRun

    shared = tmp_path_factory.getbasetemp().parent
    with FileLock(str(shared / "first-run.lock")):
        done = FirstRun.load(shared / "first-run")
        if done is None:
            done = default_run_in_tmux(shared / "first-run")
            done.save()
    return done


# Seconds each test file took (setup + call + teardown, summed over its tests) in a recorded run of the
# suite in two workers: the order files are handed out in. Refresh with --record-file-seconds.
FILE_SECONDS = Path(__file__).with_name("file_seconds.json")
_spent: collections.Counter = collections.Counter()


def _recorded_seconds() -> dict[str, float]:
    return json.loads(FILE_SECONDS.read_text()) if FILE_SECONDS.is_file() else {}


def pytest_addoption(parser):
    parser.addoption("--record-file-seconds", action="store_true",
                     help=f"write each test file's seconds in this run to {FILE_SECONDS.name}")


def pytest_collection_modifyitems(config, items):
    """The longest files first, each file's tests kept together and in order.

    The two pytest-xdist workers (``--dist loadfile --no-loadscope-reorder``, pyproject.toml) take whole
    files in this order, so the minute-long files start early and the quick ones fill the end (the
    longest-first rule of thumb for two machines); in xdist's default order (most tests first) the
    few-test, long files came last and one worker ran them alone for minutes. A file the record does
    not know counts as quick.
    """
    seconds = _recorded_seconds()
    by_file: dict[str, list] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::")[0], []).append(item)
    items[:] = [t for f in sorted(by_file, key=lambda f: -seconds.get(f, 0.0)) for t in by_file[f]]


def pytest_runtest_logreport(report):
    _spent[report.nodeid.split("::")[0]] += report.duration


def pytest_sessionfinish(session):
    # In the controlling process only: it hears every worker's reports (and the workers would race).
    # Files this run did not take keep their recorded seconds.
    if session.config.getoption("record_file_seconds") and not hasattr(session.config, "workerinput"):
        seconds = _recorded_seconds()
        seconds.update({f: round(s, 1) for f, s in _spent.items()})
        FILE_SECONDS.write_text(json.dumps(dict(sorted(seconds.items())), indent=1) + "\n")
