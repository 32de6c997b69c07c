"""What a quantrack process killed outright (SIGKILL, power loss) leaves behind, found by the next one.

Such a process cannot mark its MLflow run or remove its unfinished ``.partial-*`` folder. So every
run records its owner, ``quantrack.host`` / ``quantrack.pid`` / ``quantrack.pid_start`` tags (the
start time tells a reused pid from the original), and every unfinished folder carries the same in
its name. The next quantrack process on the same store and experiment (``run``, ``compare`` with
tracking, ``sweep``, ``sync``; any new command calls :func:`clean_leftovers` once it has a client and
before it starts its own run) marks a RUNNING run whose owner is gone as KILLED and removes such a
folder. A run or folder of another host is left alone: whether its process lives cannot be known
from here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path

HOST_TAG, PID_TAG, START_TAG = "quantrack.host", "quantrack.pid", "quantrack.pid_start"
# Set just before a run registers: the registered model and where its aliases pointed (registry_note).
REGISTRY_TAG = "quantrack.registry_before"
# .partial-<anything>--<host>-<pid>-<start>: "--" cannot occur in what precedes it (timestamps, hex ids)
_OWNED = re.compile(r"^\.partial-.*--(?P<host>[A-Za-z0-9.-]+?)-(?P<pid>\d+)-(?P<start>\d+)$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:64] or "host"


def _start_time(pid: int) -> int:
    """The process's start time in clock ticks since boot (Linux); 0 where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[19])  # field 22; the name before ")" may hold spaces
    except (OSError, ValueError, IndexError):
        return 0


def owner_tags() -> dict[str, str]:
    pid = os.getpid()
    return {HOST_TAG: _host(), PID_TAG: str(pid), START_TAG: str(_start_time(pid))}


def owner_suffix() -> str:
    """Appended to an unfinished folder's name: ``--<host>-<pid>-<start>``."""
    tags = owner_tags()
    return f"--{tags[HOST_TAG]}-{tags[PID_TAG]}-{tags[START_TAG]}"


def is_gone(host: str, pid: int, start: int) -> bool:
    """True only when the owner certainly no longer runs: same host, and no such process (or a new one)."""
    if host != _host() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        pass
    return bool(start) and _start_time(pid) not in (0, start)


def remove_dead_folders(*folders: Path) -> list[Path]:
    """Remove ``.partial-*`` folders whose owner is gone; return them."""
    removed = []
    for folder in folders:
        if not Path(folder).is_dir():
            continue
        for p in sorted(Path(folder).iterdir()):
            m = _OWNED.match(p.name)
            if m and p.is_dir() and is_gone(m["host"], int(m["pid"]), int(m["start"])):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed


def mark_dead_runs_killed(client, experiment_id: str | None, spool_root: Path | None = None) -> list[str]:
    """Mark KILLED each RUNNING run of the experiment whose owner is gone; return their ids.

    A run waiting in ``spool_root`` for ``quantrack sync`` is RUNNING on purpose and left alone.
    """
    if experiment_id is None:
        return []
    found = client.search_runs([experiment_id], f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{_host()}'",
                               max_results=1000)
    killed = []
    for run in found:
        tags = run.data.tags
        if spool_root is not None and (Path(spool_root) / run.info.run_id).exists():
            continue
        try:
            pid, start = int(tags.get(PID_TAG, "0")), int(tags.get(START_TAG, "0"))
        except ValueError:
            continue
        if is_gone(tags.get(HOST_TAG, ""), pid, start):
            if REGISTRY_TAG in tags:  # killed while registering: its versions go, as a failed run's do
                undo_registration(client, run.info.run_id, tags[REGISTRY_TAG])
            client.set_terminated(run.info.run_id, status="KILLED")
            killed.append(run.info.run_id)
    return killed


def registry_note(name: str, before: dict) -> str:
    """The value of REGISTRY_TAG: the model's name and its aliases before this run registered."""
    return json.dumps({"name": name, "existed": bool(before.get("existed")), "aliases": before.get("aliases", {})})


def undo_registration(client, run_id: str, note: str) -> list[str]:
    """Delete the versions a killed run registered; put back an alias it moved, unless another run has
    moved it since (only aliases still on the killed run's versions are touched). Returns the deleted versions."""
    from mlflow.exceptions import MlflowException

    try:
        before = json.loads(note)
        name, old_aliases = str(before["name"]), dict(before.get("aliases") or {})
    except (ValueError, KeyError, TypeError):
        return []
    try:
        mine = [str(mv.version) for mv in client.search_model_versions(f"name='{name}' and run_id='{run_id}'")]
        if not mine:
            return []
        current = {a: str(v) for a, v in (client.get_registered_model(name).aliases or {}).items()}
        for version in mine:
            client.delete_model_version(name, version)  # drops the aliases on it too
        for alias, version in current.items():
            old = old_aliases.get(alias)
            if version in mine and old and old not in mine:
                try:
                    client.set_registered_model_alias(name, alias, old)
                except MlflowException:  # that version was deleted meanwhile: the alias stays off
                    pass
        if not before.get("existed") and not client.search_model_versions(f"name='{name}'"):
            client.delete_registered_model(name)
    except MlflowException:
        return []
    return mine


def clean_leftovers(tracker, folders: tuple[Path, ...] = (), spool_root: Path | None = None) -> str | None:
    """What a killed quantrack left: its RUNNING runs in the tracker's experiment marked KILLED (and what
    it was registering undone), its unfinished ``.partial-*`` folders in ``folders`` and ``spool_root``
    removed. Returns one line for the user, or None.

    ``tracker``: a checked, not yet started :class:`quantrack.core.tracking.RunTracker`. Call this before
    starting a run of your own (``run``, tracked ``compare`` and ``sweep`` do). It never stops the caller:
    a store that refuses the search (a read-only account) only leaves the runs as they are.
    """
    try:
        killed = tracker.mark_dead_runs(spool_root)
    except Exception:  # a server that refuses the search or the update must not stop this command
        killed = []
    removed = remove_dead_folders(*folders, *((spool_root,) if spool_root is not None else ()))
    return describe(killed, removed)


def describe(killed: list[str], removed: list[Path]) -> str | None:
    """One line for the terminal, or None when nothing was found."""
    parts = [f"run {k} marked KILLED" for k in killed] + [f"removed {p}" for p in removed]
    return f"leftovers of a killed quantrack: {'; '.join(parts)}" if parts else None
