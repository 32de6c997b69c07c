"""The registry changes last: a run that fails at any step after training leaves the registry as it found it."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantrack import pipeline
from quantrack.config import build_config

pytestmark = pytest.mark.slow

NAME = "rollback-model"


class Injected(Exception):
    pass


def _boom(*args, **kwargs):
    raise Injected("injected failure")


def _fail_second_version(monkeypatch):
    from mlflow.tracking import MlflowClient

    real = MlflowClient.create_model_version
    calls = []

    def create(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # one version already created: the rollback must delete it
            raise Injected("second version")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "create_model_version", create)


def _fail_final_rename(monkeypatch):
    real = Path.rename

    def rename(self, target):
        if self.name.startswith(".partial-"):
            raise OSError(36, "File name too long")
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)


def _fail_on(where: str, attr: str, when=None):
    """Make ``where.attr`` (a module, or a module's class) raise, when ``when(*args)`` says so."""
    def inject(monkeypatch):
        import importlib

        module, _, cls = where.rpartition(".")
        target = getattr(importlib.import_module(module), cls) if cls[0].isupper() else importlib.import_module(where)
        real = getattr(target, attr)

        def wrapper(*args, **kwargs):
            if when is None or when(*args, **kwargs):
                raise Injected(attr)
            return real(*args, **kwargs)

        monkeypatch.setattr(target, attr, wrapper)
    return inject


STEPS = {
    "measuring the variants": _fail_on("quantrack.evaluate.compare", "measure_variants"),
    "packaging the variants": _fail_on("quantrack.mlflow_models.registration", "build_models"),
    "uploading the packages": _fail_on("quantrack.tracking.tracker.Tracker", "log_artifacts",
                                       lambda self, local, path=None: path == "pyfunc"),
    "writing the report (disk full)": _fail_on("quantrack.report.writers", "write_all"),
    "logging the variants as child runs": _fail_on("quantrack.tracking.tracker.Tracker", "log_children"),
    "tagging the champion": _fail_on("quantrack.tracking.tracker.Tracker", "set_tags"),
    "uploading the models": _fail_on("quantrack.tracking.tracker.Tracker", "log_artifacts",
                                     lambda self, local, path=None: path == "models"),
    "moving the folder in place (path too long)": _fail_final_rename,
    "creating the second version": _fail_second_version,
    "moving the alias": _fail_on("mlflow.tracking.MlflowClient", "set_registered_model_alias"),
    "adding the versions to report.json": _fail_on("quantrack.report.writers", "write_json",
                                                   lambda report, path: path.name.startswith(".")),
    "ending the run": _fail_on("quantrack.tracking.tracker.Tracker", "end"),
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store whose registry already holds a champion from a good run."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("rollback")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    report = pipeline.run(_config(uri, root))
    client = MlflowClient(uri)
    return uri, root, client, report.mlflow["aliases"]["champion"]


def _config(uri: str, root: Path, register: str = "champion"):
    return build_config(epochs=1, methods="dynamic-int8", tracking_uri=uri, out=str(root / "runs"),
                        model_name=NAME, latency_budget_s=0.05, register=register)


def _registry(client) -> tuple[list[str], dict[str, str]]:
    versions = sorted(str(v.version) for v in client.search_model_versions(f"name='{NAME}'"))
    aliases = {a: str(v) for a, v in client.get_registered_model(NAME).aliases.items()}
    return versions, aliases


@pytest.mark.parametrize("step", list(STEPS))
def test_a_failure_after_training_leaves_the_registry_and_the_out_folder_as_they_were(store, monkeypatch, step):
    uri, root, client, champion_version = store
    before = _registry(client)
    assert before[1]["champion"] == champion_version
    folders = sorted(p.name for p in (root / "runs").iterdir())
    STEPS[step](monkeypatch)
    # One version per run by default; with --register all a second one exists to fail half-way through.
    register = "all" if step == "creating the second version" else "champion"
    with pytest.raises((Injected, OSError)):
        pipeline.run(_config(uri, root, register))
    monkeypatch.undo()
    assert _registry(client) == before
    assert sorted(p.name for p in (root / "runs").iterdir()) == folders
    last = next(r for r in client.search_runs([client.get_experiment_by_name("quantrack").experiment_id],
                                              order_by=["attributes.start_time DESC"])
                if "mlflow.parentRunId" not in r.data.tags)  # the training run, not a variant's child run
    assert last.info.status == "FAILED"
    assert client.search_model_versions(f"name='{NAME}' and run_id='{last.info.run_id}'") == []


def test_a_first_run_that_fails_after_registering_leaves_no_registered_model(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _fail_on("quantrack.tracking.tracker.Tracker", "end")(monkeypatch)
    with pytest.raises(Injected):
        pipeline.run(_config(uri, tmp_path))
    assert MlflowClient(uri).search_registered_models() == []
