"""Names the filesystem and the registry can take, made from any legal file name."""

from __future__ import annotations

import pytest

from quantrack.core.names import NAME_MAX, REGISTRY_NAME_MAX, file_part, folder_name, registry_name, shorten


def test_a_name_that_fits_is_kept_whole():
    assert shorten("digits", max_bytes=10) == "digits"
    assert folder_name("20260101-000000-", "digits", "-logreg-0123abcd") == "20260101-000000-digits-logreg-0123abcd"


@pytest.mark.parametrize("stem", ["d" * 240, "é" * 125, "données d'été #1 " * 14, "🚀" * 62])
def test_a_long_stem_gives_a_folder_name_within_name_max_bytes(stem, tmp_path):
    name = folder_name("20260101-000000-", stem, "-logreg-0123abcd")
    assert len(name.encode("utf-8")) <= NAME_MAX
    assert name.startswith("20260101-000000-") and name.endswith("-logreg-0123abcd")
    (tmp_path / name).mkdir()  # the filesystem takes it
    (tmp_path / name / "report.json").write_text("{}")


def test_two_long_names_sharing_a_prefix_stay_apart():
    a, b = "x" * 300 + "a", "x" * 300 + "b"
    assert shorten(a, max_bytes=100) != shorten(b, max_bytes=100)
    assert len(shorten(a, max_bytes=100).encode()) <= 100


def test_multibyte_characters_are_never_cut_in_half():
    cut = shorten("é" * 200, max_bytes=101)
    cut.encode("utf-8").decode("utf-8")  # valid UTF-8
    assert len(cut.encode("utf-8")) <= 101


def test_separators_and_control_characters_never_reach_a_folder_name():
    assert file_part("a/b\\c\nd\x00e\tf") == "a_b_c_d_e_f"


@pytest.mark.parametrize("stem", ["d" * 240, "it's #1: 50% / 100%?", "données d'été", "tab\there", "a" * 1000])
def test_a_default_registered_model_name_is_one_the_registry_takes(stem):
    from quantrack.mlflow_models.registration import check_model_name

    name = registry_name(f"quantrack-{stem}-logreg")
    check_model_name(name)  # raises on anything the registry or a models:/ URI cannot take
    assert len(name) <= REGISTRY_NAME_MAX and name.startswith("quantrack-")


def test_the_default_model_name_of_a_long_file_is_made_safe_not_refused():
    from quantrack.config import RunConfig

    cfg = RunConfig(dataset="/data/" + "d" * 240 + ".csv")
    assert cfg.registered_model_name.startswith("quantrack-ddd") and len(cfg.registered_model_name) <= 256
    assert RunConfig(dataset="/d/x.csv", model_name="mine").registered_model_name == "mine"  # the user's own, as given


@pytest.mark.parametrize("field, value, flag", [("run_name", "r" * 251, "--run-name"),
                                                ("experiment", "e" * 257, "--experiment")])
def test_a_name_longer_than_mlflow_keeps_is_refused_in_one_line(field, value, flag):
    from quantrack.config import RunConfig
    from quantrack.errors import QuantrackError

    with pytest.raises(QuantrackError) as e:
        RunConfig(**{field: value})
    assert str(e.value).startswith(flag) and "\n" not in str(e.value)
    RunConfig(**{field: value[:-1]})  # the longest MLflow keeps is fine


@pytest.mark.parametrize("field", ["dataset", "out", "run_name", "experiment", "model_name"])
def test_a_name_that_is_not_utf8_is_refused_before_the_run(field, tmp_path):
    """A Latin-1 file name (b'caf\\xe9.csv') reaches Python as 'caf\\udce9.csv'; MLflow cannot store it, and
    before this the run started and then failed in MLflow ("surrogates not allowed"), a FAILED run left."""
    import os

    from quantrack.config import RunConfig
    from quantrack.errors import QuantrackError

    value = os.fsdecode(b"caf\xe9.csv")
    with pytest.raises(QuantrackError, match="not valid UTF-8") as e:
        RunConfig(**{field: value})
    assert "\n" not in str(e.value)
