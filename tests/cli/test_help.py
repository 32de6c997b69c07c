"""--help shows every default once and lists the methods; config-file mistakes are one line, exit 2."""

from __future__ import annotations

import re

import pytest

from quantrack.methods import METHOD_NAMES


def _help(run_cli, capsys, *command: str) -> str:
    assert run_cli(*command, "--help") == 0
    return " ".join(capsys.readouterr().out.split())  # unwrap the help's line breaks


def test_run_help_shows_every_default_and_lists_the_methods(run_cli, capsys):
    text = _help(run_cli, capsys, "run")
    options = re.findall(r"(--[a-z-]+)(?: <\w+>)? ", text)
    for option in set(options) - {"--help", "--config", "--no-register", "--verbose"}:
        described = text.split(option, 1)[1].split(" --", 1)[0]
        assert "[default: " in described, option
    for fragment in ("--dataset <str> digits, iris, wine, breast_cancer, mnist, or a .csv/.parquet path. [default: digits]",
                     "[default: logreg]", "[default: size]", "[default: none]", "[default: 1024,1024]",
                     "[default: champion]", "[default: 100]"):
        assert fragment in text, fragment
    assert ", ".join(METHOD_NAMES) in text.replace("- ", "-")  # help wraps after a hyphen


def test_sync_help_prints_its_default_once(run_cli, capsys):
    assert _help(run_cli, capsys, "sync").count("[default: runs]") == 1


def test_promote_help(run_cli, capsys):
    text = _help(run_cli, capsys, "promote")
    assert "NAME <str>" in text and "VERSION <int range>" in text and "'champion' alias" in text


@pytest.mark.parametrize("toml,fragment", [
    ("epochs = 1e9\n", "key 'epochs': 1000000000.0 is not an integer"),
    ("method = 'fp16'\n", "unknown key 'method' (did you mean 'methods'?)"),
    ("epochs = 3\n[run]\nlr = 0.1\n", "top-level key 'epochs' beside the [run] table"),
    ("[run]\nepochs = -1\n", "key 'epochs': must be a positive integer, got -1"),
])
def test_config_file_mistakes_are_one_line_naming_the_file(run_cli, capsys, tmp_path, toml, fragment):
    (tmp_path / "q.toml").write_text(toml)
    assert run_cli("run", "--config", "q.toml") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("quantrack: error: config file q.toml") and fragment in err


def test_the_same_float_as_a_flag_is_refused_too(run_cli, capsys):
    assert run_cli("run", "--epochs", "1e9") == 2
    assert "Invalid value for '--epochs'" in capsys.readouterr().err


def test_a_bad_register_choice_is_one_line(run_cli, capsys):
    assert run_cli("run", "--register", "some") == 2
    assert capsys.readouterr().err == "quantrack: error: --register must be one of champion, all, none, got 'some'\n"


def test_top_level_help_gives_every_command_its_whole_description(run_cli, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    flat = _help(run_cli, capsys)
    assert "..." not in flat.split("Commands:")[1]
    for sentence in ("Train, track, quantize with every method, measure, and name the champion.",
                     "Measure an ONNX model and its ONNX Runtime int8 variants on your labelled rows; name the "
                     "champion.", "Point the 'champion' alias at a version on purpose (a run moves it only when "
                                  "its pick is better)."):
        assert sentence in flat


@pytest.mark.parametrize("command", ["run", "sweep", "compare", "serve", "sync", "promote"])
def test_help_never_breaks_a_name_at_its_hyphen(run_cli, capsys, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "80")
    assert run_cli(command, "--help") == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert not [line for line in lines if line.rstrip().endswith("-") and not line.rstrip().endswith(" -")
                and not line.rstrip().endswith("--")], "a word broken at its hyphen"
