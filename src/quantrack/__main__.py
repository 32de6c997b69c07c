from quantrack.cli import entry

entry()
