"""Tracking: the MLflow client wrapper (Tracker), bounded connections, the spool of runs a lost
server could not take, ``sync`` to upload them later, and the SQLite store warm-up."""
