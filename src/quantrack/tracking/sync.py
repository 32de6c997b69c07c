"""``quantrack sync``: upload the runs spooled while the server was gone, exactly once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from quantrack.errors import QuantrackError, TrackingError
from quantrack.tracking.connection import bound_http, explain, redact
from quantrack.tracking.spool import entries, read_entry, upload
from quantrack.tracking.tracker import Tracker


def sync(root: Path, tracking_uri: str | None = None, say=print) -> list[tuple[str, str]]:
    """Upload every spooled run under ``root``; return [(spooled run id, run id on the server)]."""

    bound_http()
    done = []
    if not root.parent.is_dir():
        raise QuantrackError(f"no such folder: {root.parent} (give the --out of the runs to sync)")
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
        if not uri or "***@" in uri:
            raise QuantrackError(f"spooled run {journal['run_id']} needs --tracking-uri (its URI held credentials "
                                 "and was not stored)")
        tracker = Tracker(uri, journal["experiment_name"])
        tracker.check()  # one line and exit 2 when the server is still gone or refuses us
        # Claim the entry so a concurrent sync does not upload it too.
        claimed = entry.with_name(f".syncing-{entry.name}-{os.getpid()}")
        entry.rename(claimed)
        try:
            run_id = upload(tracker.client, journal, base_dir=claimed)
        except Exception as e:
            claimed.rename(entry)
            from mlflow.exceptions import MlflowException

            if isinstance(e, MlflowException):
                raise TrackingError(f"sync of run {journal['run_id']} stopped: {explain(e, uri)}; "
                                    "it stays in the spool") from None
            raise
        shutil.rmtree(claimed)
        say(f"synced run {journal['run_id']} to {redact(uri)}" +
            (f" (recreated as {run_id})" if run_id != journal["run_id"] else ""))
        if (journal.get("aliases") or {}).get("why"):  # set by upload: what the registry's aliases did
            say(f"registry {journal['registry']['name']}: {journal['aliases']['why']}")
        done.append((journal["run_id"], run_id))
    if broken:
        raise QuantrackError(f"{len(broken)} spooled run(s) could not be read and stay in {root}; "
                             f"synced {len(done)}")
    return done
