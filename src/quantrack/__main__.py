from quantrack.cli.app import entry

entry()
