"""Importing quantrack changes nothing process-wide; the CLI, a one-shot process, turns telemetry off."""

import os
import subprocess
import sys

import pytest


def _python(code: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_import_sets_no_environment_and_loads_no_heavy_library():
    code = ("import os, sys, logging\n"
            "before = dict(os.environ); levels = {n: l.level for n, l in logging.root.manager.loggerDict.items()"
            " if hasattr(l, 'level')}\n"
            "import quantrack\n"
            "assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())\n"
            "heavy = {'torch', 'mlflow', 'onnxruntime', 'sklearn', 'matplotlib'} & set(sys.modules)\n"
            "print(sorted(heavy))")
    assert _python(code) == "[]"


def test_public_names_are_listed_and_resolve():
    import quantrack

    assert set(quantrack.__all__) >= {"compare", "quantize", "Report", "RunConfig"}
    for name in quantrack.__all__:
        assert getattr(quantrack, name) is not None
    with pytest.raises(AttributeError):
        quantrack.no_such_name  # noqa: B018


@pytest.mark.parametrize("preset, expected", [(None, "true"), ("false", "false")])
def test_the_cli_turns_telemetry_off_unless_the_user_opted_in(preset, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")}
    if preset is not None:
        env["MLFLOW_DISABLE_TELEMETRY"] = preset
    code = ("import os\nfrom quantrack.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print(os.environ.get('MLFLOW_DISABLE_TELEMETRY'))")
    assert _python(code, env) == expected
