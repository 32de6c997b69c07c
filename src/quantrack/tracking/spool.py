"""The spool: runs whose tracking server was gone at the end, kept on disk until ``quantrack sync``.

Layout: ``<out>/spool/<run_id>/run.json`` (the Tracker's journal: params, every metric point
with its step and timestamp, tags, artifact list, registry intent, final status) and
``<out>/spool/<run_id>/artifacts/<n>/...`` (copies of the files, so the entry stands alone).
run.json lists each copied file's SHA-256, verified before anything is uploaded.
``<out>`` is the run's ``--out`` folder (default ``runs``), next to the run folders themselves.

:func:`upload` is idempotent, so a sync that is interrupted, or repeated, never duplicates:
it completes the original run (same run id) with what the server does not have yet: missing
params, metric points not already stored (compared on key, step, timestamp and value),
tags, artifacts (re-uploading a file overwrites it), registry versions (reused per run and
variant), then the final status. An entry is removed only after its upload succeeded, and
stays in place (not renamed) while it is uploaded, so an interrupted sync leaves it for the next.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from quantrack.errors import QuantrackError, TrackingError

RECORD = "run.json"


def write(journal: dict[str, Any], root: Path) -> Path:
    """Save the journal and copies of its artifacts under ``root/<run_id>``; return that folder."""
    entry = Path(root) / journal["run_id"]
    from quantrack.tracking.leftovers import owner_suffix

    tmp = Path(root) / f".partial-{journal['run_id']}{owner_suffix()}"  # found and removed if we are killed
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "artifacts").mkdir(parents=True)
    record = dict(journal)
    record["artifacts"] = []
    for i, (local, artifact_path, kind) in enumerate(journal["artifacts"]):
        src = Path(local)
        if not src.exists():
            continue
        dest = tmp / "artifacts" / str(i) / src.name
        dest.parent.mkdir(parents=True)
        (shutil.copytree if kind == "dir" else shutil.copy2)(src, dest)
        record["artifacts"].append([str(dest.relative_to(tmp)), artifact_path, kind])
    # Written now, checked by read_entry() before anything is sent: a truncated or altered
    # weights file must never reach the server, let alone the registry.
    record["checksums"] = _checksums(tmp / "artifacts", tmp)
    (tmp / RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")
    if entry.exists():  # an older spool of the same run: the newer journal is a superset
        shutil.rmtree(entry)
    tmp.rename(entry)
    return entry


def _checksums(folder: Path, base: Path) -> dict[str, str]:
    """{path relative to ``base``: SHA-256} of every file under ``folder``."""
    return {f.relative_to(base).as_posix(): _sha256(f) for f in sorted(folder.rglob("*")) if f.is_file()}


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def remove(entry: Path) -> None:
    """Delete an uploaded entry: renamed away first (atomic), so a crash half-way through the
    deletion leaves a hidden ``.done-*`` folder that :func:`entries` ignores, never a half entry."""
    done = entry.with_name(f".done-{entry.name}-{os.getpid()}")
    entry.rename(done)
    shutil.rmtree(done, ignore_errors=True)


def entries(root: Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / RECORD).is_file())


def upload(client, journal: dict[str, Any], base_dir: Path | None) -> str:
    """Bring the server up to date with ``journal``; return the run id used. Safe to repeat."""
    from mlflow.entities import Metric, Param, RunTag

    run_id = _find_or_create_run(client, journal)
    run = client.get_run(run_id)
    from quantrack.tracking.mlflow_ui import ensure_experiment_kind

    ensure_experiment_kind(client, run.info.experiment_id)
    have_params = run.data.params
    params = [Param(k, v) for k, v in journal["params"].items() if k not in have_params]
    for i in range(0, len(params), 100):
        client.log_batch(run_id, params=params[i:i + 100])

    by_key: dict[str, list] = {}
    for key, value, ts, step in journal["metrics"]:
        by_key.setdefault(key, []).append((key, value, ts, step))
    missing = []
    for key, points in by_key.items():
        have = {(m.step, m.timestamp, float(m.value)) for m in client.get_metric_history(run_id, key)}
        missing += [Metric(k, float(v), int(ts), int(st)) for k, v, ts, st in points
                    if (int(st), int(ts), float(v)) not in have]
    for i in range(0, len(missing), 1000):
        client.log_batch(run_id, metrics=missing[i:i + 1000])

    if journal.get("datasets"):  # MLflow stores an input once per (run, dataset digest, context)
        from quantrack.tracking.dataset_input import dataset_input, link_inputs

        link_inputs(client, run_id, [dataset_input(*d) for d in journal["datasets"]])  # a run beside us may race
    tags = [RunTag(k, v) for k, v in journal["tags"].items()]
    if tags:
        client.log_batch(run_id, tags=tags)
    for local, artifact_path, kind in journal["artifacts"]:
        path = Path(local) if base_dir is None else Path(base_dir) / local
        if kind == "dir":
            client.log_artifacts(run_id, str(path), artifact_path)
        else:
            client.log_artifact(run_id, str(path), artifact_path)
    if journal.get("children"):
        from quantrack.tracking.variant_runs import upload_children

        upload_children(client, run.info.experiment_id, run_id, journal["children"],
                        int(journal.get("children_time") or journal.get("start_time") or 0))
    if journal.get("registry"):
        from quantrack.mlflow_models.promotion import update_aliases
        from quantrack.mlflow_models.registration import register

        versions = register(client, run_id, run.info.artifact_uri, journal["registry"])
        decision = update_aliases(client, journal["registry"], versions)
        if decision is not None:
            journal["aliases"] = decision.to_dict()  # for sync to tell the user what happened
    client.set_terminated(run_id, status=journal.get("status", "FINISHED"))
    return run_id


def _find_or_create_run(client, journal: dict[str, Any]) -> str:
    """The original run if the server has it; else the run a previous sync made for it; else a new one."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(journal["run_id"]).info.run_id
    except MlflowException as e:
        if e.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
    # The server lost the run (a new store): recreate it once, marked with the original id.
    from quantrack.tracking.experiments import experiment_id

    exp_id = experiment_id(client, journal["experiment_name"])
    found = client.search_runs([exp_id], f"tags.`quantrack.original_run_id` = '{journal['run_id']}'", max_results=1)
    if found:
        return found[0].info.run_id
    run = client.create_run(exp_id, start_time=journal.get("start_time"), run_name=journal.get("run_name"),
                            tags={"quantrack.original_run_id": journal["run_id"]})
    return run.info.run_id


def read_entry(entry: Path) -> dict[str, Any]:
    """The journal of a spool entry, checked before anything is sent: a damaged entry
    (hand-edited, truncated, files missing) is refused whole rather than half uploaded."""
    try:
        journal = json.loads((entry / RECORD).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise QuantrackError(f"{RECORD} is unreadable ({type(e).__name__})") from None
    problems = []
    if not isinstance(journal, dict):
        raise QuantrackError(f"{RECORD} does not hold a run")
    for key, kind in (("run_id", str), ("experiment_name", str), ("params", dict), ("metrics", list),
                      ("tags", dict), ("artifacts", list)):
        if not isinstance(journal.get(key), kind):
            problems.append(f"'{key}' missing or not a {kind.__name__}")
    if not problems:
        for point in journal["metrics"]:
            ok = isinstance(point, list) and len(point) == 4 and isinstance(point[0], str)
            try:
                ok = ok and float(point[1]) is not None and int(point[2]) >= 0 and int(point[3]) >= 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                problems.append(f"bad metric point {str(point)[:60]}")
                break
        for item in journal["artifacts"]:
            if not (isinstance(item, list) and len(item) == 3 and (entry / str(item[0])).exists()):
                problems.append(f"artifact {str(item)[:80]} is missing from the entry")
                break
        children = journal.get("children", [])
        if not (isinstance(children, list) and all(
                isinstance(c, dict) and isinstance(c.get("variant"), str) and isinstance(c.get("metrics"), dict)
                and isinstance(c.get("tags"), dict) and isinstance(c.get("params"), dict) for c in children)):
            problems.append("'children' is not a list of variant runs")
    if not problems:
        problems += _damaged_files(entry, journal.get("checksums"))
    if problems:
        raise QuantrackError(f"{RECORD} is damaged: {'; '.join(problems)}")
    return journal


def _damaged_files(entry: Path, expected: Any) -> list[str]:
    """Every artifact file must be there with the checksum it had when it was spooled."""
    if not isinstance(expected, dict):
        return ["it has no file checksums (spooled by an older quantrack, or edited), so its files cannot be trusted"]
    found = _checksums(entry / "artifacts", entry) if (entry / "artifacts").is_dir() else {}
    missing = sorted(set(expected) - set(found))
    changed = sorted(k for k in expected if k in found and found[k] != expected[k])
    extra = sorted(set(found) - set(expected))
    problems = []
    for what, names in (("missing", missing), ("changed since it was spooled (checksum mismatch)", changed),
                        ("not part of the spooled run", extra)):
        if names:
            more = f" and {len(names) - 1} more" if len(names) > 1 else ""
            problems.append(f"file {names[0]}{more} is {what}")
    return problems
