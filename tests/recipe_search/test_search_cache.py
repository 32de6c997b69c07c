"""The trial cache: hits, misses, foreign and corrupt entries ignored with a line, atomic writes
under two writers at once."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import pytest

from quantrack.errors import QuantrackError
from quantrack.recipe_search.cache import CacheIdentity, TrialCache
from quantrack.recipe_search.recipe import Recipe

ID = CacheIdentity(model="m" * 64, data="d" * 64, version="1.0")
KEY = Recipe.of("onnx-int8-static", {"per_channel": False}).key()


def test_miss_then_hit(tmp_path):
    cache = TrialCache(tmp_path, ID)
    assert cache.get(KEY) is None
    cache.put(KEY, {"id": 0, "score": 0.9})
    assert cache.get(KEY) == {"id": 0, "score": 0.9}
    assert [p.name for p in tmp_path.iterdir()] == [cache.path(KEY).name]  # one file per trial, no temp left


def test_key_covers_model_data_recipe_and_version(tmp_path):
    keys = {ID.key(KEY), CacheIdentity("x" * 64, ID.data, ID.version).key(KEY),
            CacheIdentity(ID.model, "y" * 64, ID.version).key(KEY), CacheIdentity(ID.model, ID.data, "2.0").key(KEY),
            ID.key(Recipe.of("onnx-int8-static").key())}
    assert len(keys) == 5
    TrialCache(tmp_path, ID).put(KEY, {"id": 0})
    assert TrialCache(tmp_path, CacheIdentity(ID.model, ID.data, "2.0")).get(KEY) is None  # another version: a miss


def test_recipe_key_ignores_spelling_and_strategy():
    a = Recipe.of("m", {"b": 1, "a": [1, 2]}, strategy="knobs")
    b = Recipe.of("m", {"a": (1, 2), "b": 1}, strategy="defaults")
    assert a.key() == b.key() and a.key() != Recipe.of("m", {"a": (1, 2), "b": 2}).key()


def test_foreign_entry_is_ignored_with_a_line(tmp_path):
    lines = []
    cache = TrialCache(tmp_path, ID, say=lines.append)
    cache.put(KEY, {"id": 0})
    entry = json.loads(cache.path(KEY).read_text())
    entry["model"] = "another model"
    cache.path(KEY).write_text(json.dumps(entry))
    assert cache.get(KEY) is None
    assert len(lines) == 1 and "foreign" in lines[0] and "model" in lines[0]
    assert cache.path(KEY).exists()  # never deleted: it may be someone else's


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '{"format": "quantrack.recipe_search.trial/1"}',
                                  '{"format": "something else", "trial": {}}'])
def test_corrupt_entry_is_ignored_with_a_line(tmp_path, text):
    lines = []
    cache = TrialCache(tmp_path, ID, say=lines.append)
    cache.path(KEY).write_text(text)
    assert cache.get(KEY) is None
    assert len(lines) == 1 and "ignored" in lines[0]
    assert "\n" not in lines[0]


def test_cache_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(QuantrackError, match="folder"):
        TrialCache(f, ID)


def _writer(folder: str, n: int, tag: int) -> None:
    cache = TrialCache(folder, ID)
    for i in range(n):
        cache.put(KEY, {"id": i, "writer": tag, "pad": "x" * 20000})
        cache.put(Recipe.of("m", {"i": i % 5}).key(), {"id": i, "writer": tag})


def test_two_writers_never_leave_a_torn_entry(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), 150, t)) for t in (1, 2)]
    for p in procs:
        p.start()
    cache = TrialCache(tmp_path, ID, say=lambda line: pytest.fail(line))
    seen = 0
    while any(p.is_alive() for p in procs):
        got = cache.get(KEY)  # any torn read would be "ignored" and fail the test
        seen += got is not None
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert cache.get(KEY)["writer"] in (1, 2) and seen > 0
    assert not [p for p in Path(tmp_path).iterdir() if p.suffix == ".tmp"]
    assert len(list(Path(tmp_path).iterdir())) == 6  # KEY and five recipe keys, one file each
