"""The command line: the Typer app (app.py) and terminal output (console.py). Commands stay thin."""

from quantrack.cli.app import app, entry, main

__all__ = ["app", "entry", "main"]
