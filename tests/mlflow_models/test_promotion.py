"""@challenger for every run's pick, @champion only on merit or on request, and the terminal says which."""

from __future__ import annotations

import pytest

from quantrack.mlflow_models.promotion import Candidate, beats

NAME = "quantrack-digits-logreg"


def _c(version="1", fingerprint="ab" * 32, prefer="size", drop=1.0, accuracy=0.95, file_bytes=3000.0, p50=20.0):
    return Candidate(version, fingerprint, prefer, drop, accuracy, file_bytes, p50)


@pytest.mark.parametrize("new,expected,fragment", [
    (_c("2", file_bytes=2000.0, accuracy=0.945), True, "file 2,000 B vs 3,000 B"),  # smaller, within 1 point
    (_c("2", file_bytes=2000.0, accuracy=0.93), False, "loses more than 1 point"),  # smaller, but too inaccurate
    (_c("2", accuracy=0.96), True, "higher accuracy"),  # same size, more accurate
    (_c("2", accuracy=0.95), False, "does not beat"),  # a tie keeps the incumbent
    (_c("2", accuracy=0.94), False, "does not beat"),  # 50 epochs, other settings: same size, less accurate
    (_c("2", file_bytes=4000.0, accuracy=0.99), False, "does not beat"),  # prefer size: bigger never wins
    (_c("2", fingerprint="cd" * 32, file_bytes=10.0), False, "other data"),
    (_c("2", drop=2.0, file_bytes=10.0), False, "another rule"),
    (_c("2", prefer="latency", p50=1.0), False, "another rule"),
])
def test_beats_compares_only_like_with_like(new, expected, fragment):
    ok, why = beats(new, _c())
    assert ok is expected and fragment in why


def _lm(version="1", ppl=15.24, file_bytes=540e6, drop=0.02, metric="perplexity", prefer="size", p50=40_000.0):
    return Candidate(version, "ab" * 32, prefer, drop, ppl, file_bytes, p50, metric)


@pytest.mark.parametrize("new,expected,fragment", [
    (_lm("2", ppl=15.34, file_bytes=300e6), True, "file 300,000,000 B vs 540,000,000 B"),  # +0.7 %, smaller
    (_lm("2", ppl=15.84, file_bytes=300e6), False, "loses more than 2 % perplexity"),  # +3.9 %: too much
    (_lm("2", ppl=15.00), True, "lower perplexity 15.000 vs 15.240"),  # same size, lower is better
    (_lm("2", ppl=15.50), False, "does not beat"),  # same size, higher perplexity
    (_lm("2", ppl=15.24), False, "does not beat"),  # a tie keeps the incumbent
    (_lm("2", drop=0.05, file_bytes=1.0), False, "another rule"),
    (_lm("2", metric="accuracy", ppl=0.99, drop=1.0, file_bytes=1.0), False, "another rule"),  # a classifier
])
def test_an_lm_version_is_judged_on_perplexity_lower_is_better(new, expected, fragment):
    ok, why = beats(new, _lm())
    assert ok is expected and fragment in why, why


def test_lm_tags_round_trip_into_a_candidate():
    from quantrack.mlflow_models.promotion import candidate_tags

    intent = {"fingerprint": "ef" * 32, "rule": {"metric": "perplexity", "prefer": "latency", "max_increase": 0.02}}
    tags = candidate_tags({"file_bytes": 1670, "p50_us": 26.2, "perplexity": 15.34}, intent)
    assert "quantrack.max_accuracy_drop" not in tags
    c = Candidate.from_tags("4", tags)
    assert (c.metric, c.prefer, c.max_drop, c.score, c.file_bytes, c.p50_us) == \
        ("perplexity", "latency", 0.02, 15.34, 1670.0, 26.2)
    assert Candidate.from_tags("5", {**tags, "quantrack.metric": "bleu"}) is None  # a score we cannot judge


def test_latency_needs_a_clear_gap_across_runs():
    old = _c(prefer="latency", p50=20.0)
    assert beats(_c("2", prefer="latency", p50=18.0), old)[0]
    assert not beats(_c("2", prefer="latency", p50=19.5), old)[0]  # within 5 %: timing noise between runs


def test_tags_round_trip_into_a_candidate():
    from quantrack.mlflow_models.promotion import candidate_tags

    intent = {"fingerprint": "ef" * 32, "rule": {"prefer": "size", "max_accuracy_drop": 1.0}}
    tags = {**candidate_tags({"file_bytes": 1670, "p50_us": 26.2}, intent), "quantrack.accuracy": "0.978"}
    c = Candidate.from_tags("4", tags)
    assert (c.fingerprint, c.prefer, c.max_drop, c.score, c.file_bytes, c.p50_us, c.metric) == \
        ("ef" * 32, "size", 1.0, 0.978, 1670.0, 26.2, "accuracy")
    assert Candidate.from_tags("1", {"quantrack.variant": "fp32"}) is None  # registered before these tags


@pytest.mark.slow
def test_a_second_run_moves_champion_only_when_better_or_asked(tmp_path, run_cli, capsys):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    common = ["--methods", "dynamic-int8", "--tracking-uri", uri, "--out", str(tmp_path / "runs")]
    client = MlflowClient(uri)

    def alias(name: str) -> str:
        return str(client.get_model_version_by_alias(NAME, name).version)

    assert run_cli("run", "--epochs", "30", *common) == 0
    out = " ".join(capsys.readouterr().out.split())  # the terminal wraps long lines at words
    assert "@champion moved to version 1: there was no @champion yet" in out
    assert alias("champion") == alias("challenger") == "1"

    # Other settings, same data and rule; 2 epochs cannot beat 30 (same sizes, lower accuracy).
    assert run_cli("run", "--epochs", "2", *common) == 0
    out = " ".join(capsys.readouterr().out.split())  # the terminal wraps long lines at words
    assert "is models:/quantrack-digits-logreg@challenger, version 2;" in out
    assert "@champion stays at version 1: it loses more than 1 point to version 1" in out
    assert f"quantrack promote {NAME} 2" in out
    assert alias("champion") == "1" and alias("challenger") == "2"
    assert len(client.search_model_versions(f"name='{NAME}'")) == 2  # one version per run

    # Another rule cannot be compared: the alias stays and the terminal says why.
    assert run_cli("run", "--epochs", "2", "--max-accuracy-drop", "3", *common) == 0
    assert "chosen under another rule" in " ".join(capsys.readouterr().out.split()) and alias("champion") == "1"

    assert run_cli("run", "--epochs", "2", "--promote", *common) == 0
    assert "@champion moved to version 4: promoted on request (--promote)" in " ".join(capsys.readouterr().out.split())
    assert alias("champion") == "4"

    assert run_cli("promote", NAME, "1", "--tracking-uri", uri) == 0
    assert capsys.readouterr().out.strip() == f"models:/{NAME}@champion = version 1 (was version 4)"
    assert alias("champion") == "1"
    assert run_cli("promote", NAME, "99", "--tracking-uri", uri) == 2
    assert capsys.readouterr().err.strip() == f"quantrack: error: registered model '{NAME}' has no version 99"

    mv = client.get_model_version(NAME, "2")
    assert mv.description.startswith("dynamic-int8 from run") or mv.description.startswith("fp32 from run")
    assert {"quantrack.run_link", "quantrack.data_sha256", "quantrack.accuracy", "quantrack.file_bytes"} <= set(mv.tags)
