"""The search in MLflow: a parent run, one child run per trial (logged as each finishes, so a killed
search keeps those already done), the champion and the report on the parent.

Before the parent run starts, RUNNING runs of this experiment whose process is gone (a search
killed with SIGKILL) are marked KILLED (tracking/leftovers.py).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from quantrack.recipe_search.trial import OK, TrialResult

SEARCH_KIND = "search"
TRIAL_TAG = "quantrack.trial"


class SearchTracking:
    def __init__(self, tracking: bool | str, experiment: str, say) -> None:
        from quantrack.tracking.leftovers import describe, mark_dead_runs_killed
        from quantrack.tracking.tracker import Tracker

        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        self.tracker = Tracker(None if tracking is True else tracking, experiment)
        self.tracker.check()
        line = describe(mark_dead_runs_killed(self.tracker.client, self.tracker.experiment_id), [])
        if line:
            say(line)

    def start(self, params: dict[str, Any]) -> None:
        self.tracker.start(None, params, tags={"quantrack.kind": SEARCH_KIND})

    def trial(self, t: TrialResult) -> None:
        """One child run (variant_runs.upload_children: created and FINISHED in one go, never left RUNNING)."""
        from quantrack.tracking.mlflow_ui import ui_tags
        from quantrack.tracking.variant_runs import VARIANT_TAG, upload_children

        metrics = {k: float(v) for k, v in (("selection_score", t.score), ("drop", t.drop),
                                            ("file_bytes", t.file_bytes), ("payload_bytes", t.payload_bytes),
                                            ("p50_us_b1", t.p50_us), ("speedup_b1", t.speedup),
                                            ("seconds", t.seconds)) if v is not None}
        if t.drop_ci:
            metrics["drop_ci_lo"], metrics["drop_ci_hi"] = float(t.drop_ci[0]), float(t.drop_ci[1])
        tags = {**ui_tags(), VARIANT_TAG: f"trial-{t.id}", TRIAL_TAG: str(t.id), "quantrack.status": t.status,
                "quantrack.cached": str(t.cached).lower(), "quantrack.within_budget": str(t.within_budget).lower()}
        if t.status != OK:
            tags["quantrack.reason"] = (t.reason or "")[:5000]
        params = {"method": t.method, "config": json.dumps(t.recipe.get("config", {}), sort_keys=True)[:6000],
                  "float_layers": str(len(t.float_layers)), "strategy": t.recipe.get("strategy", "")}
        child = {"variant": f"trial-{t.id}", "run_name": f"{t.id:03d} {t.label}"[:250], "tags": tags,
                 "params": params, "metrics": metrics}
        tr = self.tracker
        tr._send(upload_children, tr.client, tr.experiment_id, tr.run_id, [child], int(time.time() * 1000))

    def finish(self, report, out: Path | None, interrupted: bool) -> None:
        tr = self.tracker
        search = report.search
        tr.set_tags({"champion": report.champion, "champion_reason": report.champion_reason,
                     "champion_rule": report.champion_rule, "quantrack.stopped_because": search["stopped_because"],
                     "mlflow.note.content": f"**champion: {report.champion}** — {report.champion_reason}"})
        champion = report.variant(report.champion)
        tr.log_metrics({"trials": len(search["trials"]), "selection_rows": search["selection_rows"],
                        "held_out_rows": search["held_out_rows"], "search_seconds": search["seconds"],
                        "champion_held_out_score": champion.score if champion else None})
        with tempfile.TemporaryDirectory(prefix="quantrack-search-report-") as d:
            folder = out if out is not None else Path(d)
            files = report.save(folder) if out is None else [folder / n for n in ("report.json", "report.md",
                                                                                  "report.html")]
            for f in files:
                if Path(f).exists():
                    tr.log_artifact(f, "report")
        if interrupted:
            tr.flush()
            tr.end("KILLED")
        else:
            tr.end("FINISHED")

    def fail(self) -> None:
        self.tracker.fail()
