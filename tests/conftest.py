"""Shared fixtures: small configs and a throw-away MLflow SQLite store per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never reach a real tracking server by accident.
os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def run_cli(monkeypatch, tmp_path):
    """Run ``quantrack`` in-process like a user would; returns (exit code, stdout, stderr)."""
    from quantrack.cli import main

    def _run(*args: str, capsys=None) -> int:
        monkeypatch.chdir(tmp_path)
        try:
            main(list(args))
        except SystemExit as e:
            return int(e.code or 0)
        return 0

    return _run
