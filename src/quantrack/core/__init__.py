"""The leaf every other package may import: the champion budget and the base of method configs.

Nothing here imports torch, MLflow or another quantrack package, so validating a budget or a
recipe costs nothing at start-up and creates no import cycle.
"""
