"""MLflow models: pyfunc packaging of any variant (models from code, no pickle), registration
in MLflow's model registry, and serving."""
