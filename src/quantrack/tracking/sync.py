"""``quantrack sync``: upload the runs spooled while the server was gone, exactly once.

Exactly once, even when interrupted or run twice at the same time:
- one sync at a time per spool: a lock on the spool folder (released by the OS however the
  holder ends), so a second ``sync`` waits for the first and then finds nothing left to do;
- an entry is uploaded where it lies and removed only after its upload succeeded; an interrupted
  upload leaves it in place, and the next sync completes the same run (upload() is idempotent);
- entries that earlier versions claimed by renaming them to ``.syncing-<id>-<pid>`` and then
  stranded (Ctrl-C) are put back first.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from quantrack.errors import Interrupted, QuantrackError, TrackingError
from quantrack.mlflow_models.connection import bound_http, explain, redact
from quantrack.tracking.leftovers import describe, mark_dead_runs_killed, remove_dead_folders
from quantrack.tracking.locks import directory_lock
from quantrack.tracking.spool import entries, read_entry, remove, upload
from quantrack.tracking.tracker import Tracker

_STRANDED = re.compile(r"^\.syncing-(?P<run>.+)-(?P<pid>\d+)$")
_DELETING = re.compile(r"^\.done-.+-\d+$")


def sync(root: Path, tracking_uri: str | None = None, say=print) -> list[tuple[str, str]]:
    """Upload every spooled run under ``root``; return [(spooled run id, run id on the server)]."""

    bound_http()
    if not root.parent.is_dir():
        raise QuantrackError(f"no such folder: {root.parent} (give the --out of the runs to sync)")
    if not root.is_dir():
        say(f"nothing to sync in {root}")
        return []
    with directory_lock(root, on_wait=lambda: say(f"another quantrack sync is uploading {root}; waiting for it")):
        try:
            _recover(root, say)
            line = describe([], remove_dead_folders(root.parent, root))
            if line:
                say(line)
            return _sync_entries(root, tracking_uri, say)
        except KeyboardInterrupt:  # between uploads: nothing was half-sent
            raise Interrupted(f"interrupted; the runs not yet synced stay in {root} for the next "
                              "`quantrack sync`") from None


def _recover(root: Path, say) -> None:
    """Put back entries an interrupted older sync left claimed; finish deleting uploaded ones."""
    for p in sorted(root.iterdir()):
        m = _STRANDED.match(p.name)
        if m and p.is_dir():
            original = root / m["run"]
            if original.exists():  # a newer spool of the same run supersedes it
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.rename(original)
                say(f"resuming the interrupted sync of run {m['run']}")
        elif _DELETING.match(p.name) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)


def _sync_entries(root: Path, tracking_uri: str | None, say) -> list[tuple[str, str]]:
    done: list[tuple[str, str]] = []
    found = entries(root)
    if not found:
        say(f"nothing to sync in {root}")
        return done
    broken = []
    for entry in found:
        try:
            journal = read_entry(entry)
        except QuantrackError as e:  # keep going: one damaged entry must not hold back the others
            say(f"skipped {entry}: {e}")
            broken.append(entry)
            continue
        uri = tracking_uri or journal.get("tracking_uri")
        if not uri or "***" in uri:  # redact() hid its credentials (user:password@ or password=)
            raise QuantrackError(f"spooled run {journal['run_id']} needs --tracking-uri (its URI held credentials "
                                 "and was not stored)")
        tracker = Tracker(uri, journal["experiment_name"])
        tracker.check()  # one line and exit 2 when the server is still gone or refuses us
        line = describe(mark_dead_runs_killed(tracker.client, tracker.experiment_id, root), [])
        if line:
            say(line)
        try:
            run_id = upload(tracker.client, journal, base_dir=entry)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted; run {journal['run_id']} stays in {root} and the next "
                                       "`quantrack sync` completes it") from None
        except Exception as e:
            from mlflow.exceptions import MlflowException

            if isinstance(e, MlflowException):
                raise TrackingError(f"sync of run {journal['run_id']} stopped: {explain(e, uri)}; "
                                    "it stays in the spool") from None
            raise
        remove(entry)
        say(f"synced run {journal['run_id']} to {redact(uri)}" +
            (f" (recreated as {run_id})" if run_id != journal["run_id"] else ""))
        if (journal.get("aliases") or {}).get("why"):  # set by upload: what the registry's aliases did
            say(f"registry {journal['registry']['name']}: {journal['aliases']['why']}")
        done.append((journal["run_id"], run_id))
    if broken:
        raise QuantrackError(f"{len(broken)} spooled run(s) could not be read and stay in {root}; "
                             f"synced {len(done)}")
    return done

