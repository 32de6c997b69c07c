"""``quantrack compare-lm``: bad input is one line and exit 2; a tiny model goes through."""

import json

import pytest

from quantrack.cli.app import main
from tests.lm.conftest import TEXT, tiny, tiny_folder  # noqa: F401 (fixtures)


def _run(capsys, args):
    with pytest.raises(SystemExit) as e:
        main(["compare-lm", *args])
    cap = capsys.readouterr()
    return e.value.code, cap.out, cap.err


@pytest.mark.parametrize("make, match", [
    (lambda d: (d / "t.txt").write_text(""), "is empty"),
    (lambda d: (d / "t.txt").write_bytes(b"\x00\x01binary"), "binary"),
])
def test_bad_text_files(tmp_path, capsys, tiny_folder, make, match):
    make(tmp_path)
    code, _, err = _run(capsys, [str(tiny_folder), "--text", str(tmp_path / "t.txt")])
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_calibration_text_is_one_line(tmp_path, capsys, tiny_folder):
    (tmp_path / "t.txt").write_text(TEXT)
    (tmp_path / "c.txt").write_text("   ")
    code, _, err = _run(capsys, [str(tiny_folder), "--text", str(tmp_path / "t.txt"), "--calibration-text",
                                 str(tmp_path / "c.txt")])
    assert code == 2 and "is empty" in err and len(err.strip().splitlines()) == 1


def test_bad_folders(tmp_path, capsys):
    (tmp_path / "t.txt").write_text(TEXT)
    code, _, err = _run(capsys, [str(tmp_path), "--text", str(tmp_path / "t.txt")])
    assert code == 2 and "holds no model" in err and len(err.strip().splitlines()) == 1
    coded = tmp_path / "coded"
    coded.mkdir()
    (coded / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": ["x.T", None]}}))
    code, _, err = _run(capsys, [str(coded), "--text", str(tmp_path / "t.txt")])
    assert code == 2 and "auto_map" in err


def test_text_shorter_than_one_window(tmp_path, capsys, tiny_folder):
    (tmp_path / "t.txt").write_text("just a few words")
    code, _, err = _run(capsys, [str(tiny_folder), "--text", str(tmp_path / "t.txt"), "--context", "128"])
    assert code == 2 and "shorter than one window of 128" in err and len(err.strip().splitlines()) == 1


def test_tiny_model_goes_through_and_a_fresh_process_prints_nothing_on_stderr(tmp_path, tiny_folder):
    """A new process, as a user's: transformers imports torchao there for the first time, whose notices
    (optional kernels it failed to load, pytree deprecations) must stay off the terminal."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")])))
    env.pop("MLFLOW_TRACKING_URI", None)
    (tmp_path / "t.txt").write_text(TEXT)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "quantrack", "compare-lm", str(tiny_folder), "--text",
                           str(tmp_path / "t.txt"), "--methods", "int8-weight-only", "--context", "64", "--windows",
                           "4", "--max-new-tokens", "3", "--latency-budget", "0.2", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "int8-weight-only" in proc.stdout and "champion:" in proc.stdout
    assert proc.stderr == ""
    saved = json.loads((out / "report.json").read_text())
    assert saved["windows"]["windows"] == 4 and saved["config"]["latency_budget_s"] == 0.2


def test_a_gguf_transformers_cannot_read(tmp_path, capsys, tiny_folder):
    import shutil

    folder = tmp_path / "bad"
    folder.mkdir()
    for f in tiny_folder.glob("tokenizer*"):
        shutil.copy(f, folder / f.name)
    (folder / "model.gguf").write_bytes(b"GGUF\x03\x00\x00\x00 truncated")
    (tmp_path / "t.txt").write_text(TEXT)
    code, _, err = _run(capsys, [str(folder), "--text", str(tmp_path / "t.txt")])
    assert code == 2 and "model.gguf" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
