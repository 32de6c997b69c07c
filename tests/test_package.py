import os
import subprocess
import sys


def test_importing_quantrack_turns_mlflow_telemetry_off():
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")}
    code = ("import quantrack\n"
            "from mlflow.telemetry.utils import is_telemetry_disabled\n"
            "print(is_telemetry_disabled())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "True", out.stderr


def test_a_user_can_opt_back_in():
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="false")
    env.pop("DO_NOT_TRACK", None)
    out = subprocess.run([sys.executable, "-c", "import quantrack, os; print(os.environ['MLFLOW_DISABLE_TELEMETRY'])"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "false"
