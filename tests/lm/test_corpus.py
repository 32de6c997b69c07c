import numpy as np
import pytest

from quantrack.errors import QuantrackError
from quantrack.lm.corpus import JOINER, make_windows, pydoc_texts, read_text, texts_from
from tests.lm.conftest import TEXT


def test_windows_are_consecutive_and_recorded(tiny):
    _, tok = tiny
    w = make_windows(tok, [TEXT, TEXT], 64)
    ids = np.asarray(tok(JOINER.join([TEXT, TEXT]), add_special_tokens=False)["input_ids"])
    n = len(ids) // 64
    assert w.ids.shape == (n, 64)
    assert (w.ids.reshape(-1) == ids[: n * 64]).all()
    s = w.spec
    assert (s.context, s.stride, s.windows, s.tokens, s.texts) == (64, 64, n, len(ids), 2)
    assert s.tokens_scored == n * 63 and s.tokens_dropped == len(ids) - n * 64
    assert "stride 64" in s.text()


def test_max_windows_and_too_short(tiny):
    _, tok = tiny
    assert make_windows(tok, TEXT, 32, max_windows=3).spec.windows == 3
    with pytest.raises(QuantrackError, match="shorter than one window of 4096"):
        make_windows(tok, TEXT, 4096)
    with pytest.raises(QuantrackError, match="only whitespace"):
        make_windows(tok, ["  \n"], 8)
    with pytest.raises(QuantrackError, match="context"):
        make_windows(tok, TEXT, 1)


def test_read_text_refuses_empty_binary_and_missing(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "bin.txt").write_bytes(b"abc\x00def")
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "ok.txt").write_text("hello")
    for name, match in (("empty.txt", "is empty"), ("bin.txt", "binary"), ("latin.txt", "not UTF-8"),
                        ("nope.txt", "does not exist")):
        with pytest.raises(QuantrackError, match=match):
            read_text(tmp_path / name)
    assert read_text(tmp_path / "ok.txt") == "hello"


def test_pydoc_corpus_ships_with_python():
    texts = pydoc_texts()
    assert len(texts) > 50 and sum(map(len, texts)) > 100_000
    assert texts_from(["pydoc"]) == texts
