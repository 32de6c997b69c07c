"""End to end through the real command line, in-process, against a throw-away SQLite store."""

import json
from pathlib import Path

import pytest

from quantrack.cli.app import main


def run_main(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as e:
        return int(e.code or 0)
    return 0


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_default_run_reproduces_the_report(workdir, sqlite_uri, capsys):
    code = run_main("run", "--methods", "dynamic-int8", "--tracking-uri", sqlite_uri, "--out", "out")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    assert "champion:" in out and "dynamic-int8" in out

    (run_dir,) = (workdir / "out").iterdir()
    report = json.loads((run_dir / "report.json").read_text())
    variants = {v["name"]: v for v in report["variants"]}
    assert list(variants) == ["fp32", "dynamic-int8"]
    assert variants["fp32"]["payload_bytes"] == 2600 and variants["dynamic-int8"]["payload_bytes"] == 680
    assert variants["fp32"]["params"] == variants["dynamic-int8"]["params"] == 650
    for v in variants.values():
        assert v["accuracy"] >= 0.93
        assert v["file_bytes"] == (run_dir / "models" / v["artifact"]).stat().st_size
        batches = [lat["batch_size"] for lat in v["latency"]]
        assert batches == [1, 360]
        for lat in v["latency"]:
            assert lat["threads"] == 1 and lat["samples"] >= 30
            assert 0 < lat["p50_us"] <= lat["p90_us"] <= lat["p99_us"]
    assert all(lat["verdict"] in ("faster", "slower", "no measurable difference")
               for lat in variants["dynamic-int8"]["latency"])
    assert 1 <= report["best_epoch"] <= 100
    # The checkpoint is chosen on the validation rows carved from the training rows; the test rows chose nothing.
    assert report["val_loss"][report["best_epoch"] - 1] == min(report["val_loss"]) and report["test_loss"] == []
    assert report["split"] == {"train": 1293, "val": 144, "test": 360}
    assert report["champion_rule"] in ("confident", "baseline")
    assert "CPU: " in out  # the rule's full text: report.md and --verbose
    for v in variants.values():
        lo, hi = v["accuracy_ci"]
        assert lo <= v["accuracy"] <= hi
    int8 = variants["dynamic-int8"]
    assert int8["drop_ci"][0] <= variants["fp32"]["accuracy"] - int8["accuracy"] <= int8["drop_ci"][1]
    assert 0 <= int8["p_value"] <= 1
    for lat in int8["latency"]:  # the p50 pair and the verdict come from the same windows: never contradictory
        assert lat["verdict"] != "faster" or lat["p50_us"] < lat["baseline_p50_us"]
        assert lat["verdict"] != "slower" or lat["p50_us"] > lat["baseline_p50_us"]
        assert lat["speedup_ci"][0] <= lat["speedup"] <= lat["speedup_ci"][1]
    assert (int8["why"] is None) == all(lat["verdict"] == "faster" for lat in int8["latency"])
    assert set(report["environment"]["cpu"]["flags"]) <= {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                                                          "amx_int8", "amx_bf16", "avx512_fp16", "amx_fp16"}
    assert report["train_seconds"] > 0

    from mlflow.tracking import MlflowClient

    client = MlflowClient(sqlite_uri)
    run = client.get_run(report["mlflow"]["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.params["epochs"] == "100" and run.data.params["lr"] == "0.01"
    assert run.data.tags["champion"] == report["champion"]
    assert run.data.tags["champion_rule"] == report["champion_rule"]
    assert run.data.tags["cpu.quantized_engine"] == report["environment"]["cpu"]["quantized_engine"]
    for key in ("train_loss", "val_loss"):
        history = client.get_metric_history(run.info.run_id, key)
        assert sorted(m.step for m in history) == list(range(1, 101))
    assert run.data.metrics["best_epoch"] == report["best_epoch"]
    # The variants are child runs with one set of metric names; the parent keeps training's metrics.
    # ... and the champion's figures, the experiment list's columns.
    assert set(run.data.metrics) == {"train_loss", "val_loss", "best_epoch", "best_val_loss", "train_seconds",
                                     "champion_score", "champion_accuracy", "champion_file_bytes",
                                     "champion_file_ratio", "champion_speedup", "champion_drop_ci_hi"}
    children = {c.data.tags["quantrack.variant"]: c for c in client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")}
    assert sorted(children) == ["dynamic-int8", "fp32"]
    # p99 is logged only where it rests on 100+ calls, which can differ between variants
    names = {frozenset(m for m in c.data.metrics if not m.startswith("p99")) for c in children.values()}
    assert len(names) == 1 and {"accuracy", "agreement", "file_bytes", "payload_bytes", "p50_us", "p50_us_b1",
                                "speedup"} <= set(next(iter(names)))
    assert children["dynamic-int8"].data.metrics["payload_bytes"] == 680
    assert children["dynamic-int8"].data.metrics["drop_ci_hi"] == pytest.approx(int8["drop_ci"][1])
    assert children["dynamic-int8"].data.metrics["p_value"] == pytest.approx(int8["p_value"])
    assert children["dynamic-int8"].data.tags["verdict"] == variants["dynamic-int8"]["latency"][-1]["verdict"]
    assert children["fp32"].data.metrics["speedup"] == 1.0 and children["fp32"].data.tags["verdict"] == "baseline"
    # What MLflow's UI reads: classic training, a Source, a user, the champion line as the description.
    assert client.get_experiment(run.info.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    assert run.data.tags["mlflow.source.name"] == "quantrack" and run.data.tags["mlflow.user"]
    assert run.data.tags["mlflow.note.content"].startswith(f"**champion: {report['champion']}**")
    assert "hidden" not in run.data.params and "target" not in run.data.params  # logreg, last column
    # A fresh store after one default run holds one model version: the champion, as @challenger and @champion.
    (mv,) = client.search_model_versions("name='quantrack-digits-logreg'")
    assert mv.tags["quantrack.variant"] == report["champion"] and mv.tags["quantrack.data_sha256"] == report["dataset"]["sha256"]
    assert mv.tags["quantrack.run_link"] == f"runs:/{run.info.run_id}" and mv.description.startswith(report["champion"])
    for alias in ("champion", "challenger"):
        assert client.get_model_version_by_alias("quantrack-digits-logreg", alias).version == mv.version
    assert "@champion moved to version 1: there was no @champion yet" in " ".join(out.split())  # lines wrap at words
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "report")}
    assert {"report/report.json", "report/report.md"} <= artifacts
    models = {a.path for a in client.list_artifacts(run.info.run_id, "models")}
    assert {"models/fp32.pt", "models/dynamic-int8.pt"} <= models


@pytest.mark.parametrize("args,fragment", [
    (["--epochs", "-1"], "--epochs must be a positive integer"),
    (["--lr", "0"], "--lr must be a positive number"),
    (["--methods", "nope"], "unknown method 'nope'"),
    (["--config", "missing.toml"], "config file not found"),
    (["--epochs", "abc"], "--epochs"),
    (["--no-such-flag"], "no-such-flag"),
    (["--max-accuracy-drop", "100"], "--max-accuracy-drop must be between 0 and 100 points"),
])
def test_bad_input_is_one_line_and_exit_2(workdir, sqlite_uri, capsys, args, fragment):
    code = run_main("run", "--tracking-uri", sqlite_uri, *args)
    out, err = capsys.readouterr()
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], err
    assert "Traceback" not in err
    assert not (workdir / "mlflow.db").exists() and not (workdir / "runs").exists()


def test_a_failure_after_the_run_started_marks_it_failed_and_leaves_no_output(workdir, sqlite_uri, monkeypatch, capsys):
    import quantrack.training as training
    from quantrack.errors import QuantrackError

    def broken_train(*args, **kwargs):
        kwargs["on_epoch"](1, 1.0, 1.0)
        raise QuantrackError("simulated failure during training")

    monkeypatch.setattr(training, "train", broken_train)
    code = run_main("run", "--methods", "dynamic-int8", "--tracking-uri", sqlite_uri, "--out", "out")
    _, err = capsys.readouterr()
    assert code == 2 and "simulated failure" in err

    from mlflow.tracking import MlflowClient

    client = MlflowClient(sqlite_uri)
    exp = client.get_experiment_by_name("quantrack")
    (run,) = [r for r in client.search_runs([exp.experiment_id]) if "mlflow.parentRunId" not in r.data.tags]
    assert run.info.status == "FAILED"
    assert not any((workdir / "out").iterdir())  # the half-written folder was removed


def test_help_and_version(capsys):
    assert run_main("--help") == 0
    assert "run" in capsys.readouterr().out
    assert run_main("--version") == 0
    assert capsys.readouterr().out.startswith("quantrack ")
    assert run_main("run", "--help") == 0
    assert "--max-accuracy-drop" in capsys.readouterr().out


def test_unwritable_output_directory_is_one_line(workdir, sqlite_uri, capsys):
    (workdir / "afile").write_text("")
    code = run_main("run", "--tracking-uri", sqlite_uri, "--out", "afile/sub", "--epochs", "1")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("quantrack: error: cannot create the output directory")


@pytest.mark.slow
def test_same_seed_same_model(workdir, sqlite_uri):
    reports = []
    for out in ("a", "b"):
        assert run_main("run", "--epochs", "5", "--methods", "dynamic-int8", "--tracking-uri", sqlite_uri, "--out", out) == 0
        (run_dir,) = (workdir / out).iterdir()
        reports.append(json.loads((run_dir / "report.json").read_text()))
        assert reports[-1]["out_dir"] == str(Path(out) / run_dir.name)
    assert reports[0]["val_loss"] == reports[1]["val_loss"] and reports[0]["val_loss"]
    assert reports[0]["variants"][0]["accuracy"] == reports[1]["variants"][0]["accuracy"]


def test_an_unexpected_error_is_still_one_line_with_credentials_hidden(workdir, sqlite_uri, monkeypatch, capsys):
    from quantrack import pipeline

    def boom(cfg, progress=None):
        raise ValueError("could not reach https://bob:s3cret@example.invalid/api\nmore detail")

    monkeypatch.setattr(pipeline, "run", boom)
    code = run_main("run", "--tracking-uri", sqlite_uri)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert "unexpected ValueError" in err[0] and "s3cret" not in err[0] and "QUANTRACK_DEBUG" in err[0]


@pytest.mark.parametrize("uri,fragment", [
    ("ftp://u:Sup3rSecret@127.0.0.1/x", "cannot use the tracking URI ftp://***@127.0.0.1/x"),
    ("foo://x", "cannot use the tracking URI foo://x"),
    ("sqlite://", "in-memory SQLite"),
])
def test_unusable_tracking_uris_are_one_line(workdir, capsys, uri, fragment):
    code = run_main("run", "--epochs", "1", "--tracking-uri", uri)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0], err
    assert "Sup3rSecret" not in err[0]


def test_a_diverging_run_is_refused_and_marked_failed(workdir, sqlite_uri, monkeypatch, capsys):
    import quantrack.training as training

    real = training.train

    def nan_data(model, X, *args, **kwargs):
        X = X.copy()
        X[0, 0] = float("nan")  # one poisoned row: every loss after it is NaN
        return real(model, X, *args, **kwargs)

    monkeypatch.setattr(training, "train", nan_data)
    code = run_main("run", "--epochs", "3", "--methods", "dynamic-int8", "--tracking-uri", sqlite_uri, "--out", "out")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "training diverged at epoch 1" in err[0]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(sqlite_uri)
    (run,) = [r for r in client.search_runs([client.get_experiment_by_name("quantrack").experiment_id])
              if "mlflow.parentRunId" not in r.data.tags]
    assert run.info.status == "FAILED"


@pytest.mark.slow
def test_a_set_too_small_to_tell_says_so_and_ships_fp32(workdir, sqlite_uri, capsys):
    # iris: 30 test rows, one row is 3.3 points; no interval can be within a 1-point budget.
    (workdir / "fast.toml").write_text("latency_budget_s = 0.05  # timing is not under test here\n")
    code = run_main("run", "--dataset", "iris", "--epochs", "30", "--lr", "0.1", "--methods", "fp16,dynamic-int8",
                    "--config", "fast.toml", "--no-register", "--tracking-uri", sqlite_uri, "--out", "out")
    out, err = capsys.readouterr()
    assert code == 0, err
    (run_dir,) = (workdir / "out").iterdir()
    report = json.loads((run_dir / "report.json").read_text())
    assert report["split"] == {"train": 108, "val": 12, "test": 30}
    assert (report["champion"], report["champion_rule"]) == ("fp32", "baseline")
    assert report["champion_reason"].startswith(
        "the evaluation set is too small to tell: no variant can be shown within 1 point of fp32 at 95% confidence on "
        "30 rows, so fp32 is shipped; within budget on the point estimate alone: ")
    assert "rows would settle it" in report["champion_reason"]
    assert "too small to tell" in " ".join(out.split())
    html = (run_dir / "report.html").read_text()
    assert "too small to tell" in html and "rule: baseline" in html


@pytest.mark.slow
def test_the_budget_in_points_is_recorded_as_the_fraction_compare_decides_with(workdir, sqlite_uri):
    (workdir / "fast.toml").write_text("latency_budget_s = 0.05  # timing is not under test here\n")
    code = run_main("run", "--dataset", "iris", "--epochs", "5", "--methods", "fp16", "--max-accuracy-drop", "2",
                    "--config", "fast.toml", "--no-register", "--tracking-uri", sqlite_uri, "--out", "out")
    assert code == 0
    (run_dir,) = (workdir / "out").iterdir()
    report = json.loads((run_dir / "report.json").read_text())
    # the same dict compare(max_drop=0.02) records (tests/evaluate/test_compare.py)
    assert report["budget"] == {"max_drop": 0.02, "confidence": 0.95, "prefer": "size", "score_name": "accuracy"}
    assert report["max_drop"] == 0.02 and report["config"]["max_accuracy_drop"] == 2.0


@pytest.mark.slow
def test_checkpoint_on_test_reproduces_the_assignment_and_says_so(workdir, sqlite_uri, capsys):
    (workdir / "fast.toml").write_text("latency_budget_s = 0.05  # timing is not under test here\n")
    code = run_main("run", "--epochs", "5", "--methods", "dynamic-int8", "--checkpoint-on", "test", "--confidence",
                    "0", "--config", "fast.toml", "--no-register", "--tracking-uri", sqlite_uri, "--out", "out")
    out, err = capsys.readouterr()
    assert code == 0, err
    (run_dir,) = (workdir / "out").iterdir()
    report = json.loads((run_dir / "report.json").read_text())
    assert report["split"] == {"train": 1437, "val": 0, "test": 360} and report["val_loss"] == []
    assert report["test_loss"][report["best_epoch"] - 1] == min(report["test_loss"])
    assert report["champion_rule"] in ("point-estimate", "baseline")  # --confidence 0: point estimates decide
    md = (run_dir / "report.md").read_text()
    assert "checkpoint chosen on the test rows (--checkpoint-on test, the assignment's way)" in md
