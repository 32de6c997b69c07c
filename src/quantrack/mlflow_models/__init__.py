"""MLflow models: bounded connections to a store (connection.py, the lowest MLflow module), pyfunc
packaging of any variant (models from code, no pickle), registration and aliases in MLflow's model
registry, and serving. Imports nothing from tracking/, which builds on it."""
