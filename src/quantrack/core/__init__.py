"""The leaf every other package may import: the champion budget (budget.py), the base of method
configs (method_config.py), the evaluation rows (evalset.py), the result types (results.py: VariantResult,
ReportData, Latency, Verdict), paired statistics (stats.py), the CPU facts line (cpu.py) and the
tracker interface (tracking.py: RunTracker).

Nothing here imports torch, MLflow or another quantrack package (errors aside), so validating a
budget or a recipe costs nothing at start-up and creates no import cycle.
"""
