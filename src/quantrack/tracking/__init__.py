"""Tracking: runs in MLflow (Tracker, the MLflow implementation of core.tracking.RunTracker) or in
memory (MemoryTracker), what a Report becomes in a run (report_run.py), the variants as child runs,
the spool of runs a lost server could not take, ``sync`` to upload them later, the SQLite store
warm-up and a sweep's trial runs."""
