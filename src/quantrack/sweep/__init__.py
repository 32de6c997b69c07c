"""``quantrack sweep``: many configurations as Ray Tune trials, each a child MLflow run (see runner.py)."""
