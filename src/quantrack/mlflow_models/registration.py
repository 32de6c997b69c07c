"""Package each variant as an MLflow pyfunc, register it, and point the ``champion`` alias.

Two halves, so that a run whose server went away can still be registered later:

* :func:`build_models` works offline: it writes one pyfunc directory per variant (models from
  code: ``pyfunc_model.py`` + the variant file + a JSON metadata file) and returns the
  *registry intent*, a plain dict saved in the spool if needed.
* :func:`register` replays an intent against a registry, idempotently: a version that already
  exists for (run, variant) is reused, so a retry or ``quantrack sync`` never duplicates one.

The pyfunc directories are uploaded with the run's other artifacts (under ``pyfunc/``), and
each model version's source is that artifact folder.

By default only the run's champion is registered (``--register all``: every variant), so the
registry grows by one version per run. Aliases are promotion.py's job: ``challenger`` names
each run's pick, ``champion`` moves only when that pick beats the current one. Every version
carries tags (variant, accuracy, file size, data fingerprint, run id and link, champion) and a
description, so the history reads without opening the runs. A language model's champion
(lm_packaging.py, ``quantrack compare-lm --register champion``) goes through the same
:func:`register` with an intent whose rule is on perplexity; its tags carry perplexity instead.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from quantrack.core.budget import Budget
from quantrack.errors import QuantrackError

ALIAS = "champion"
PYFUNC_DIR = "pyfunc"  # artifact folder of the run that holds one pyfunc per variant
_CODE = Path(__file__).with_name("pyfunc_model.py")


def pip_requirements(methods: list[str]) -> list[str]:
    """Given explicitly: letting MLflow infer them loads the model and costs seconds per variant."""
    import mlflow
    import numpy
    import torch

    from quantrack._version import __version__

    reqs = [f"mlflow=={mlflow.__version__}", f"torch=={torch.__version__.split('+')[0]}",
            f"numpy=={numpy.__version__}", f"quantrack=={__version__}"]
    if any(m.startswith("onnx") for m in methods):
        import onnxruntime

        reqs.append(f"onnxruntime=={onnxruntime.__version__}")
    if any(m.startswith("openvino") for m in methods):  # serving runs the IR; NNCF is only needed to make it
        from importlib.metadata import version

        reqs.append(f"openvino=={version('openvino')}")
    return reqs


def metadata(config, data, method: str, method_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the pyfunc needs to rebuild the variant and serve raw rows (JSON, no code)."""
    return {
        "format": 1,
        "method": method,
        "method_config": dict(method_config or {}),  # the knobs the variant was made with (VariantResult.config)
        "model": config.model,
        "n_features": int(data.n_features),
        "n_classes": int(data.n_classes),
        "hidden": list(config.hidden),
        "image_shape": list(data.image_shape) if data.image_shape else None,
        "class_names": list(data.class_names),
        "label_kind": getattr(data, "label_kind", "name"),  # "integer": predictions are ints, as the labels were
        "feature_names": list(data.feature_names),
        "scaler_mean": [float(v) for v in data.scaler_mean],
        "scaler_scale": [float(v) for v in data.scaler_scale],
        # --impute mean: the training rows' column means, so served rows are filled the same way.
        "impute_means": None if data.impute_means is None else [float(v) for v in data.impute_means],
    }


def build_models(config, data, variants, models_dir: Path, dest: Path, champion: str,
                 budget: Budget) -> dict[str, Any]:
    """Save a pyfunc per variant to register under ``dest``; return the registry intent."""
    import mlflow
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    available = [v for v in variants if v.available and v.artifact]
    if config.register != "all":  # one version per run; the others stay in the run's artifacts
        available = [v for v in available if v.name == champion]
    signature = ModelSignature(
        # float64 so that JSON numbers and float64 arrays (what data usually is) pass as they are.
        inputs=Schema([TensorSpec(np.dtype("float64"), (-1, int(data.n_features)))]),
        # The label type that went in: integers stay integers (digits: 4, not "4"), names stay names.
        outputs=Schema([ColSpec("long" if getattr(data, "label_kind", "name") == "integer" else "string")]),
    )
    example = np.asarray(data.X_test_raw[:2], dtype=np.float64)
    reqs = pip_requirements([v.name for v in available])
    dest.mkdir(parents=True, exist_ok=True)
    entries = []
    scratch = Path(tempfile.mkdtemp(prefix="quantrack-meta-"))
    meta_file = scratch / "meta.json"
    from quantrack.core.environment import env_override
    from quantrack.mlflow_models.connection import NO_PROGRESS_BARS

    for v in available:
        target = dest / v.name
        meta_file.write_text(json.dumps(metadata(config, data, v.name, v.config)), encoding="utf-8")
        with env_override(NO_PROGRESS_BARS):  # it copies the artifacts in: no tqdm bar on the user's stderr
            mlflow.pyfunc.save_model(
                path=str(target), python_model=str(_CODE),
                artifacts={"variant": str(models_dir / v.artifact), "meta": str(meta_file)},
                pip_requirements=reqs, signature=signature, input_example=example,
            )
        entries.append(_version_entry(v, data))
    shutil.rmtree(scratch, ignore_errors=True)
    registered = [e["variant"] for e in entries]
    return {"name": config.registered_model_name, "versions": entries, "champion": champion,
            "alias": alias_for(variants, champion, budget, registered),
            "fingerprint": data.fingerprint["sha256"], "data_source": data.fingerprint.get("source"),
            # In points, as the versions' tags have always stored it (promotion.Candidate reads them back).
            "rule": {"prefer": budget.prefer, "max_accuracy_drop": budget.points},
            "promote": bool(config.promote)}


def _version_entry(v, data) -> dict[str, Any]:
    """What a model version records of its variant (whole-test-split latency: the champion rule's batch)."""
    lat = v.latency_at(len(data.X_test))
    ci = v.accuracy_ci
    return {"variant": v.name, "artifact_path": f"{PYFUNC_DIR}/{v.name}", "accuracy": v.accuracy,
            "accuracy_ci": list(ci) if ci else None,
            "file_bytes": v.file_bytes, "file_ratio": v.file_ratio, "p50_us": lat.p50_us if lat else None,
            "speedup": lat.speedup if lat else None, "speedup_ci": list(lat.speedup_ci) if lat and lat.speedup_ci
            else None, "verdict": lat.verdict if lat else None, "batch_size": lat.batch_size if lat else None}


def _accuracy_text(entry: dict[str, Any]) -> str:
    """"95.56% (95% CI 92.90–97.25)"."""
    ci = entry.get("accuracy_ci")
    return f"{100 * entry['accuracy']:.2f}%" + (f" (95% CI {100 * ci[0]:.2f}–{100 * ci[1]:.2f})" if ci else "")


def _speedup_text(entry: dict[str, Any]) -> str | None:
    """"1.38x [1.30–1.45] vs fp32 at batch 360 (faster)", None when the variant was not timed against fp32."""
    if entry.get("speedup") is None:
        return None
    ci = entry.get("speedup_ci")
    return (f"{entry['speedup']:.2f}x" + (f" [{ci[0]:.2f}–{ci[1]:.2f}]" if ci else "")
            + (f" vs fp32 ({entry['timed']})" if entry.get("timed") else f" vs fp32 at batch {entry.get('batch_size')}")
            + (f" ({entry['verdict']})" if entry.get("verdict") else ""))


def _perplexity_text(entry: dict[str, Any]) -> str:
    """"15.340 (95% CI 14.90–15.80), +0.66 % vs fp32 [+0.40–+0.92]" for an LM version."""
    ci, inc, inc_ci = entry.get("perplexity_ci"), entry.get("increase"), entry.get("increase_ci")
    text = f"{entry['perplexity']:.3f}" + (f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else "")
    if inc is not None and entry["variant"] != "fp32":
        text += f", {100 * inc:+.2f} % vs fp32" + (f" [{100 * inc_ci[0]:+.2f}–{100 * inc_ci[1]:+.2f}]" if inc_ci else "")
    return text


def _rule_text(intent: dict[str, Any]) -> str:
    rule = intent.get("rule") or {}
    if rule.get("metric") == "perplexity":
        return f"prefer {rule.get('prefer')} within a {100 * rule['max_increase']:g} % perplexity increase over fp32"
    return f"prefer {rule.get('prefer')} within {rule.get('max_accuracy_drop')} accuracy points of fp32"


def version_tags(entry: dict[str, Any], intent: dict[str, Any], run_id: str) -> dict[str, str]:
    """Tags of a new model version: what it is, how good and how big, on which data, from which run."""
    from quantrack.mlflow_models.promotion import candidate_tags

    tags = {"quantrack.variant": entry["variant"], "quantrack.run_id": run_id,
            "quantrack.champion": str(entry["variant"] == intent["champion"]).lower(),
            **candidate_tags(entry, intent)}
    if "quantrack.perplexity" not in tags:  # a classifier's score (an LM's is its perplexity)
        tags["quantrack.accuracy"] = "" if entry["accuracy"] is None else f"{entry['accuracy']:.6f}"
    # What the registry's version page lists (the quantrack.* tags above are what promotion reads).
    if entry.get("accuracy") is not None:
        tags["accuracy"] = _accuracy_text(entry)
    if entry.get("perplexity") is not None:
        tags["perplexity"] = _perplexity_text(entry)
    if entry.get("file_bytes") is not None:
        tags["size"] = f"{entry['file_bytes']:,} B" + (f" ({entry['file_ratio']:.2f}x of fp32)"
                                                       if entry.get("file_ratio") is not None else "")
    if _speedup_text(entry):
        tags["speed-up"] = _speedup_text(entry)
    tags["variant"] = entry["variant"]
    tags["rule"] = _rule_text(intent)
    if intent.get("run_link"):
        tags["quantrack.run_link"] = intent["run_link"]
    return tags


def version_description(entry: dict[str, Any], intent: dict[str, Any], run_id: str) -> str:
    rule = intent.get("rule") or {}
    parts = [f"{entry['variant']} from run {run_id}"]
    if entry.get("accuracy") is not None:
        parts.append(f"accuracy {_accuracy_text(entry)}")
    if entry.get("perplexity") is not None:
        parts.append(f"perplexity {_perplexity_text(entry)}")
    if entry.get("file_bytes") is not None:
        ratio = f" ({entry['file_ratio']:.2f}x of fp32)" if entry.get("file_ratio") is not None else ""
        parts.append(f"file {entry['file_bytes']:,} B{ratio}")
    if _speedup_text(entry):
        parts.append(f"speed-up {_speedup_text(entry)}")
    if intent.get("fingerprint"):
        parts.append(f"data {intent.get('data_source') or ''} sha256 {intent['fingerprint'][:16]}…".replace("  ", " "))
    text = ", ".join(parts) + "."
    if entry["variant"] == intent["champion"] and rule:
        text += f" The run's champion ({_rule_text(intent)})."
    return text


def alias_for(variants, champion: str, budget: Budget, registered: list[str]) -> str | None:
    """``champion`` when the champion is registered and within the accuracy budget of fp32, else None."""
    fp32 = next(v for v in variants if v.name == "fp32")
    champ = next((v for v in variants if v.name == champion), None)
    if champ is None or champion not in registered or champ.accuracy is None or fp32.accuracy is None:
        return None
    return ALIAS if budget.within(fp32.accuracy - champ.accuracy) else None


def register(client, run_id: str, artifact_uri: str, intent: dict[str, Any]) -> dict[str, str]:
    """Create the registered model and one version per intended variant (reusing any that exist).

    Returns {variant: version}. Safe to call again with the same intent.
    """
    from mlflow.exceptions import MlflowException

    from quantrack.mlflow_models.connection import retry_on_conflict

    name = intent["name"]
    try:
        client.get_registered_model(name)
    except MlflowException as e:
        if e.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            client.create_registered_model(name, description="quantrack variants; @champion = the one to ship, "
                                                             "@challenger = the latest run's pick")
        except MlflowException as e2:  # created meanwhile by a concurrent run
            if e2.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
    existing = {}
    for mv in client.search_model_versions(f"name='{name}' and run_id='{run_id}'"):
        variant = (mv.tags or {}).get("quantrack.variant")
        if variant:
            existing[variant] = mv.version
    versions: dict[str, str] = {}
    for entry in intent["versions"]:
        variant = entry["variant"]
        if variant in existing:
            versions[variant] = str(existing[variant])
            continue
        # Runs registering at once race for the next version number; MLflow retries 3 times without a pause
        # and then gives up ("Model Version creation error"): a lost race, nothing created, so try again.
        mv = retry_on_conflict(client.create_model_version, name,
                               source=f"{artifact_uri.rstrip('/')}/{entry['artifact_path']}",
                               run_id=run_id, tags=version_tags(entry, intent, run_id),
                               run_link=_http_link(intent.get("run_link")),
                               description=version_description(entry, intent, run_id))
        versions[variant] = str(mv.version)
    return versions  # aliases: promotion.update_aliases, called after this


def _http_link(link: str | None) -> str | None:
    """MLflow's UI renders a version's run_link as a hyperlink: only a web page qualifies (the tag keeps runs:/...)."""
    return link if link and link.startswith(("http://", "https://")) else None


# What a registered-model name cannot hold: MLflow refuses "/" and ":"; "@" would split
# ``models:/<name>@<alias>`` in the wrong place; "'" breaks the registry's search filters;
# "?", "#" and "%" change what a ``models:/`` URI means; control characters are invisible.
_BAD_NAME_CHARS = "/:@'\"?#%"
_MAX_NAME_LENGTH = 256  # the registry's name column


def check_model_name(name: str) -> None:
    """Refuse, before the run starts, a registered-model name MLflow or a ``models:/`` URI cannot take."""
    bad = sorted({c for c in name if c in _BAD_NAME_CHARS or not c.isprintable()})
    if not name.strip() or name != name.strip() or name in (".", "..") or bad or len(name) > _MAX_NAME_LENGTH:
        shown = "".join(bad).encode("unicode_escape").decode()
        why = (f"it holds {shown!r}" if bad else "it is too long" if len(name) > _MAX_NAME_LENGTH
               else "it is empty, '.', '..' or starts or ends with spaces")
        raise QuantrackError(f"--model-name {name!r} cannot name a registered model: {why}; use letters, digits, "
                             f"'-', '_' and '.' (at most {_MAX_NAME_LENGTH} characters), e.g. quantrack-digits-logreg")


def registry_state(client, name: str) -> dict[str, Any]:
    """What a rollback must restore: whether the registered model existed and where its aliases pointed."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as e:
        if e.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return {"existed": False, "aliases": {}}
    return {"existed": True, "aliases": {a: str(v) for a, v in (model.aliases or {}).items()}}


def rollback(client, name: str, run_id: str, before: dict[str, Any]) -> list[str]:
    """Undo a run's registration: delete the versions it created, put every alias back where it was,
    and delete the registered model if the run created it. Returns the deleted versions."""
    from mlflow.exceptions import MlflowException

    deleted = []
    for mv in client.search_model_versions(f"name='{name}' and run_id='{run_id}'"):
        client.delete_model_version(name, mv.version)  # also drops any alias that pointed at it
        deleted.append(str(mv.version))
    try:
        now = client.get_registered_model(name)
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST":
            return deleted
        raise
    current = {a: str(v) for a, v in (now.aliases or {}).items()}
    for alias, version in current.items():
        if alias not in before["aliases"]:
            client.delete_registered_model_alias(name, alias)
    for alias, version in before["aliases"].items():
        if current.get(alias) != version:
            client.set_registered_model_alias(name, alias, version)
    if not before["existed"] and not client.search_model_versions(f"name='{name}'"):
        client.delete_registered_model(name)
    return deleted
