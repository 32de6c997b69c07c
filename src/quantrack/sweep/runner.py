"""The sweep driver: Ray Tune runs the trials; MLflow holds a parent run and one child per trial.

Order of work: everything that can be checked (options, data, model name, the tracking server)
is checked before Ray starts, so bad input is one line and exit 2 with nothing left behind.
Then the parent run starts, Ray starts (or joins ``--ray-address``), Tune runs the trials, and
the driver collects, ranks, writes sweep.json/sweep.html, logs them on the parent run and moves
the ``champion`` alias. A trial that fails is FAILED with its reason; the sweep goes on. Ctrl-C
shuts Ray down (which stops the trials), marks the unfinished child runs and the parent KILLED.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quantrack.errors import QuantrackError, first_line
from quantrack.sweep import ray_runtime
from quantrack.sweep.results import FAILED, FINISHED, KILLED, SweepResult, TrialResult
from quantrack.sweep.space import Space, check_settings, grid, random_samples

SWEEP_TAG = "quantrack.sweep"


def absolute_tracking_uri(uri: str) -> str:
    """Ray workers run in other folders: a relative SQLite path must name the driver's file."""
    for prefix in ("sqlite:///",):
        if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
            return prefix + str(Path(uri[len(prefix):]).resolve())
    if "://" not in uri:  # a bare path is MLflow's file store
        return str(Path(uri).resolve())
    return uri


def _is_local_store(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def _registered_name(base_config, space: Space) -> str:
    """Every trial registers under one name, so the champion alias can name the sweep's answer."""
    if base_config.model_name:
        return base_config.model_name
    models = space.values.get("model", (base_config.model,))
    if len(models) == 1:
        return base_config.registered_model_name
    from quantrack.core.names import registry_name

    return registry_name(f"quantrack-{base_config.dataset_label}-sweep")


def _data_payload(cfg) -> tuple[str, bytes] | None:
    """A data file travels to the workers as bytes (through Ray); bundled sets need nothing."""
    from quantrack.data.table import BUNDLED

    path = Path(cfg.dataset)
    if cfg.dataset in BUNDLED or not path.is_file():
        return None
    return path.name, path.read_bytes()


def run_sweep(base: dict[str, Any], space: Space, *, search: str = "grid", samples: int | None = None,
              max_concurrent: int | None = None, ray_address: str | None = None, seed: int = 0,
              num_cpus: int | None = None, say: Callable[[str], None] = lambda line: None) -> SweepResult:
    """Run a sweep; ``base`` holds the fixed options (as for build_config), ``space`` the varying ones.

    ``num_cpus`` sizes a local Ray runtime (default: the CPUs this process may use).
    """
    from quantrack.config import build_config

    check_settings(search, samples, max_concurrent)
    _check_installed(search)
    if ray_address:
        ray_runtime.check_reachable(ray_address)
    cfg = build_config(base)
    # One answer per sweep: every trial registers its variants under the same model name.
    model_name = _registered_name(cfg, space)
    if cfg.registers:
        from quantrack.mlflow_models.registration import check_model_name

        check_model_name(model_name)
    combos = grid(space) if search == "grid" else (random_samples(space, samples or space.size, seed)
                                                   if search == "random" else None)
    n_trials = len(combos) if combos is not None else (samples or space.size)
    _check_data(cfg)
    payload = _data_payload(cfg)

    from quantrack.mlflow_models.connection import redact, resolve_tracking_uri
    from quantrack.tracking.tracker import Tracker

    tracking_uri = absolute_tracking_uri(resolve_tracking_uri(cfg.tracking_uri))
    if ray_address and _is_local_store(tracking_uri) and not ray_runtime.is_loopback(ray_address):
        say(f"the tracking store {redact(tracking_uri)} is a local file: workers on other machines of the "
            f"cluster cannot reach it; use an MLflow server (--tracking-uri http://...)")
    trial_base = {**base, "tracking_uri": tracking_uri, "model_name": model_name}
    if cfg.registers:
        # The sweep's champion may be any variant of any trial, so each trial registers every variant
        # (a run alone registers only its own pick); the sweep then points @champion at its answer.
        trial_base["register"] = "all"
    trial_base.pop("run_name", None)
    definition = {"search": search, "samples": samples, "trials": n_trials, "max_concurrent": max_concurrent,
                  "ray_address": ray_address, "space": {k: list(v) for k, v in space.values.items()},
                  "fixed": {k: (redact(v) if k == "tracking_uri" else v) for k, v in trial_base.items()},
                  "registered_model": model_name if cfg.registers else None}

    parent = Tracker(tracking_uri, cfg.experiment)
    parent.check()  # a missing server or a wrong password: one line, before Ray starts
    from quantrack.tracking.leftovers import clean_leftovers

    # A sweep killed outright left its parent and trial runs RUNNING (and a run its .partial folder).
    line = clean_leftovers(parent, (Path(cfg.out),), Path(cfg.out) / "spool")
    if line:
        say(line)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    started_ray = False
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        started_ray = ray_runtime.start(ray_address, timing, num_cpus)
        import ray

        say(f"sweep: Ray {'started' if started_ray else 'joined at ' + ray_address} in {timing['ray_start_s']:.1f} s, "
            f"{int(ray.cluster_resources().get('CPU', 0))} CPUs")
        # The parent run starts once Ray is up, so a Ray that cannot start leaves no run behind.
        parent.start(cfg.run_name or f"sweep-{stamp}", _parent_params(definition), tags={SWEEP_TAG: "true"})
        say(f"sweep: MLflow parent run {parent.run_id}; {n_trials} trials, search {search}")
        from quantrack.sweep.gate import TimingGate

        t1 = time.perf_counter()
        results = _fit(trial_base, space, combos, n_trials, search, max_concurrent, parent.run_id, TimingGate(),
                       payload, seed, say, spool_root=str((Path(cfg.out) / "spool").resolve()))
        timing["tune_s"] = round(time.perf_counter() - t1, 3)
        trials = _collect(results, parent, cfg.experiment)
    except BaseException as e:
        interrupted = isinstance(e, KeyboardInterrupt)
        ray_runtime.stop()
        _remove_work_dir(parent.run_id)
        if parent.run_id is not None:
            _close_children(parent, KILLED if interrupted else FAILED,
                            "interrupted (Ctrl-C)" if interrupted else f"the sweep failed: {redact(first_line(e))}")
            try:
                parent.set_tags({"quantrack.failure": "interrupted" if interrupted else redact(first_line(e))})
            except Exception:
                pass
            _end(parent, KILLED if interrupted else FAILED)
        if interrupted:
            say("sweep interrupted: the unfinished trial runs and the parent run are marked KILLED; "
                + ("the Ray runtime it started is shut down" if started_ray else "left the Ray cluster"))
        raise
    ray_runtime.stop()
    _remove_work_dir(parent.run_id)
    timing["wall_s"] = round(time.perf_counter() - t0, 3)
    return _finish(parent, definition, trials, cfg, model_name, timing, stamp, say)


def _remove_work_dir(parent_run_id: str | None) -> None:
    """Trials killed mid-way leave their temporary folders; on this machine, the sweep's folder goes.
    (On other nodes of a cluster only a killed trial can leave one, under the system's temp folder.)"""
    if parent_run_id:
        from quantrack.sweep.trial import sweep_work_dir

        shutil.rmtree(sweep_work_dir(parent_run_id), ignore_errors=True)


def _check_installed(search: str) -> None:
    import importlib.util

    needed = ["ray"] + (["optuna"] if search == "optuna" else [])
    for name in needed:
        if importlib.util.find_spec(name) is None:
            raise QuantrackError(f"quantrack sweep needs {name}: pip install 'quantrack[sweep]'")


def _check_data(cfg) -> None:
    """Load and split the data once on the driver: bad data fails here, before Ray and MLflow."""
    from quantrack.data.load import load_table
    from quantrack.data.prepare import prepare

    prepare(load_table(cfg.dataset, target=cfg.target, impute=cfg.impute), test_size=cfg.test_size, seed=cfg.seed)


def _parent_params(definition: dict[str, Any]) -> dict[str, Any]:
    params = {f"sweep.{k}": v for k, v in definition.items() if k not in ("space", "fixed") and v is not None}
    params.update({f"sweep.space.{k}": " | ".join(v) for k, v in definition["space"].items()})
    params.update({k: v for k, v in definition["fixed"].items() if v is not None})
    return params


def _fit(base, space, combos, n_trials, search, max_concurrent, parent_run_id, gate, payload, seed, say,
         spool_root: str | None = None):
    from ray import tune

    from quantrack.sweep.trial import OBJECTIVES, run_trial, trial_name

    def resources(tune_config: dict[str, Any]) -> dict[str, float]:
        from quantrack.sweep.trial import combo_of

        threads = int(combo_of(tune_config).get("threads", base.get("threads") or 1))
        return {"cpu": threads}  # a trial's torch threads get their own Ray CPUs

    trainable = tune.with_resources(tune.with_parameters(run_trial, base=base, parent_run_id=parent_run_id,
                                                         gate=gate, data=payload, spool_root=spool_root),
                                   resources)
    # Reused actors keep torch, MLflow and the rest imported: ~3 s saved per trial after the first.
    names = {"trial_name_creator": lambda t: trial_name(t.trial_id), "trial_dirname_creator": lambda t: t.trial_id}
    if combos is not None:
        param_space: dict[str, Any] = {"combo": tune.grid_search(combos)}
        tune_config = tune.TuneConfig(num_samples=1, max_concurrent_trials=max_concurrent, reuse_actors=True,
                                      **names)
    else:
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # its INFO lines would interleave with ours

        param_space = {k: tune.choice(list(v)) for k, v in space.values.items()}
        searcher = OptunaSearch(metric=list(OBJECTIVES), mode=list(OBJECTIVES.values()), seed=seed)
        tune_config = tune.TuneConfig(num_samples=n_trials, max_concurrent_trials=max_concurrent,
                                      search_alg=searcher, reuse_actors=True, **names)
    storage = tempfile.mkdtemp(prefix="quantrack-tune-")  # Tune's bookkeeping only; results live in MLflow

    class Say(tune.Callback):
        def on_trial_complete(self, iteration, trials, trial, **info):
            say(f"sweep: {trial_name(trial.trial_id)} finished")

        def on_trial_error(self, iteration, trials, trial, **info):
            say(f"sweep: {trial_name(trial.trial_id)} FAILED")

    import logging

    # Tune logs a failed trial's whole traceback at ERROR; the sweep reports it as one line instead.
    tune_log = logging.getLogger("ray.tune")
    level = tune_log.level
    tune_log.setLevel(logging.CRITICAL)
    try:
        tuner = tune.Tuner(trainable, param_space=param_space, tune_config=tune_config,
                           run_config=tune.RunConfig(name="quantrack-sweep", storage_path=storage, verbose=0,
                                                     failure_config=tune.FailureConfig(max_failures=0),
                                                     callbacks=[Say()]))
        return tuner.fit()
    finally:
        tune_log.setLevel(level)
        shutil.rmtree(storage, ignore_errors=True)


def _collect(results, parent, experiment: str) -> list[TrialResult]:
    from quantrack.sweep.trial import combo_of, trial_name
    from quantrack.tracking.trial_runs import FAILURE_TAG, child_run

    trials = []
    for r in results:
        trial_id = (r.metrics or {}).get("trial_id") or _trial_id_of(r)
        name = trial_name(trial_id) if trial_id else f"trial-{len(trials):03d}"
        combo = combo_of(r.config or {})
        if r.error is None and r.metrics and "trial_json" in r.metrics:
            trials.append(TrialResult.from_dict(json.loads(r.metrics["trial_json"])))
            continue
        try:
            run = child_run(parent.client, parent.experiment_id, parent.run_id, name)
        except Exception:  # the server went away: the reason Tune kept is enough
            run = None
        reason = (run.data.tags.get(FAILURE_TAG) if run else None) or (_error_reason(r.error) if r.error else
                                                                        "the trial reported no result")
        trials.append(TrialResult(name=name, params=combo, status=FAILED, reason=reason,
                                  run_id=run.info.run_id if run else None))
    return sorted(trials, key=lambda t: t.name)


def _error_reason(error: BaseException) -> str:
    """Ray wraps a trial's exception in its own traceback text; the last ``SomeError: message`` line is the cause."""
    import re

    from quantrack.mlflow_models.connection import redact

    lines = [line.strip() for line in str(error).splitlines()]
    causes = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt): ", line)]
    return redact(causes[-1] if causes else first_line(error))


def _trial_id_of(result) -> str | None:
    path = getattr(result, "path", None)
    return Path(path).name if path else None  # trial_dirname_creator names each folder by its trial id


def _close_children(parent, status: str, reason: str) -> int:
    """Mark every child run still RUNNING (its worker was stopped) with ``status`` and the reason."""
    from quantrack.tracking.trial_runs import FAILURE_TAG

    try:
        runs = parent.client.search_runs([parent.experiment_id],
                                         filter_string=f"tags.mlflow.parentRunId = '{parent.run_id}' "
                                                       f"and attributes.status = 'RUNNING'")
        for run in runs:
            parent.client.set_tag(run.info.run_id, FAILURE_TAG, reason)
            parent.client.set_terminated(run.info.run_id, status=status)
        return len(runs)
    except Exception:
        return 0


def _end(parent, status: str) -> None:
    try:
        parent.end(status)
    except Exception:
        pass


def _finish(parent, definition, trials, cfg, model_name, timing, stamp, say) -> SweepResult:
    from quantrack.sweep import champion as champ_mod
    from quantrack.sweep.report import write_all

    try:
        _close_children(parent, FAILED, "its worker stopped without reporting")
        champ, why, ranking = champ_mod.choose(trials, budget=cfg.budget)
        front = champ_mod.front(trials)
        alias_version = None
        if cfg.registers and champ is not None and champ.model_version:
            parent.client.set_registered_model_alias(model_name, "champion", champ.model_version)
            alias_version = champ.model_version
        out = Path(cfg.out) / f"{stamp}-sweep-{parent.run_id[:8]}"
        result = SweepResult(definition=definition, trials=trials, ranking=ranking, front=[c.key for c in front],
                             champion=champ, champion_reason=why, registered_model=model_name if cfg.registers else None,
                             alias_version=alias_version, parent_run_id=parent.run_id,
                             tracking_uri=parent.info["tracking_uri"], timing=timing, out_dir=str(out))
        files = write_all(result, out)
        for f in files:
            parent.log_artifact(f, "sweep")
        done = [t for t in trials if t.status == FINISHED]
        parent.log_metrics({"trials_finished": len(done), "trials_failed": len(trials) - len(done),
                            **{f"timing.{k}": v for k, v in timing.items()}})
        tags = {"champion_reason": why}
        if champ is not None:
            tags.update({"champion": champ.key, "champion.run_id": next(t.run_id for t in trials if t.name == champ.trial)})
        parent.set_tags(tags)
        parent.end("FINISHED")
        return result
    except BaseException:
        _end(parent, FAILED)
        raise

