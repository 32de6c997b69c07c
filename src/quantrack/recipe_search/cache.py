"""The trial cache: a folder of one JSON file per trial, so a search run again does not redo them.

Key = sha256(model digest, data digest, recipe, quantrack version); the entry repeats each part,
and is trusted only when every part matches what this search computed. A file that does not parse,
lacks a field, or names another model, data, recipe or version is ignored with one line (never
trusted, never deleted: it may be another search's). Writes go to a temporary file in the same
folder and are moved into place with ``os.replace`` (atomic on POSIX), so two searches sharing a
cache, or a search killed mid-write, never leave a half-written entry under a real name.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantrack._version import __version__
from quantrack.errors import QuantrackError

FORMAT = "quantrack.recipe_search.trial/1"


@dataclass(frozen=True)
class CacheIdentity:
    """What every entry of this search must match."""

    model: str
    data: str
    version: str = __version__

    def key(self, recipe_key: str) -> str:
        return hashlib.sha256(f"{FORMAT}\0{self.model}\0{self.data}\0{recipe_key}\0{self.version}".encode()).hexdigest()


class TrialCache:
    """``get(recipe_key)`` -> the stored trial dict or None; ``put(recipe_key, trial)``."""

    def __init__(self, folder: str | Path, identity: CacheIdentity, say: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise QuantrackError(f"cache must be a folder; {self.folder} is a file")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise QuantrackError(f"cannot create the cache folder {self.folder}: {e.strerror or e}") from None
        if not os.access(self.folder, os.W_OK):
            raise QuantrackError(f"the cache folder {self.folder} is not writable")
        self.identity = identity
        self.say = say or (lambda line: None)
        self.ignored: list[str] = []  # one line per entry not trusted

    def path(self, recipe_key: str) -> Path:
        return self.folder / f"{self.identity.key(recipe_key)}.json"

    def get(self, recipe_key: str) -> dict[str, Any] | None:
        path = self.path(recipe_key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as e:
            return self._ignore(path, f"unreadable ({e.strerror or e})")
        try:
            entry = json.loads(text)
        except ValueError:
            return self._ignore(path, "not valid JSON (corrupt)")
        if not isinstance(entry, dict) or entry.get("format") != FORMAT or not isinstance(entry.get("trial"), dict):
            return self._ignore(path, "not a quantrack search trial (corrupt or foreign)")
        expected = {"model": self.identity.model, "data": self.identity.data, "recipe": recipe_key,
                    "version": self.identity.version}
        wrong = [k for k, v in expected.items() if entry.get(k) != v]
        if wrong:
            return self._ignore(path, f"foreign: its {', '.join(wrong)} differ from this search's")
        return entry["trial"]

    def put(self, recipe_key: str, trial: dict[str, Any]) -> Path:
        path = self.path(recipe_key)
        entry = {"format": FORMAT, "model": self.identity.model, "data": self.identity.data, "recipe": recipe_key,
                 "version": self.identity.version, "trial": trial}
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:16]}-", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entry, f, indent=1, default=str)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def _ignore(self, path: Path, why: str) -> None:
        line = f"cache entry {path.name} ignored: {why}"
        self.ignored.append(line)
        self.say(line)
        return None
