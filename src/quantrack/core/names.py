"""Names made from what users name (a data file's stem, a model file's stem) that the filesystem
and MLflow's registry can take: shortened to fit, never refused after the work is done.

The full name is kept where it is data (report.json, MLflow's dataset input, params); only the
folder and the default registered-model name are derived, and shortened.
"""

from __future__ import annotations

import hashlib

# One path component, in bytes: Linux (ext4, XFS, Btrfs, tmpfs) and macOS (APFS) all stop at 255.
NAME_MAX = 255
# What a registered-model name cannot hold (mlflow_models/registration.py refuses these in a name
# the user gives): MLflow refuses "/" and ":"; "@" splits models:/<name>@<alias>; "'" breaks the
# registry's search filters; "?", "#" and "%" change what a models:/ URI means.
REGISTRY_UNSAFE = "/:@'\"?#%"
REGISTRY_NAME_MAX = 256  # characters: the registry's name column (VARCHAR(256) on PostgreSQL)
_TAG_CHARS = 9  # "~" and 8 hex digits of the full name's SHA-256


def shorten(text: str, max_bytes: int | None = None, max_chars: int | None = None) -> str:
    """``text`` if it fits, else cut on a character boundary and ended with ``~`` and 8 hex digits of the
    full text's SHA-256, so two long names sharing a prefix still differ. Fits both limits given."""
    def fits(s: str) -> bool:
        return (max_bytes is None or len(s.encode("utf-8")) <= max_bytes) and (max_chars is None or len(s) <= max_chars)

    if fits(text):
        return text
    tag = "~" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    cut = text
    if max_chars is not None:
        cut = cut[:max(max_chars - _TAG_CHARS, 0)]
    if max_bytes is not None:
        cut = cut.encode("utf-8")[:max(max_bytes - _TAG_CHARS, 0)].decode("utf-8", "ignore")
    return cut + tag


def file_part(text: str) -> str:
    """``text`` with what a folder name should not hold (separators, NUL, control characters) as "_"."""
    return "".join("_" if c in "/\\\0" or not c.isprintable() else c for c in text)


def folder_name(prefix: str, name: str, suffix: str, max_bytes: int = NAME_MAX) -> str:
    """``<prefix><name><suffix>`` in at most ``max_bytes`` bytes: only ``name`` is shortened."""
    room = max_bytes - len(prefix.encode("utf-8")) - len(suffix.encode("utf-8"))
    return f"{prefix}{shorten(file_part(name), max_bytes=room)}{suffix}"


def registry_name(text: str) -> str:
    """``text`` as a registered-model name: unsafe characters as "-", at most REGISTRY_NAME_MAX characters."""
    safe = "".join("-" if c in REGISTRY_UNSAFE or not c.isprintable() else c for c in text).strip() or "quantrack"
    return shorten(safe, max_chars=REGISTRY_NAME_MAX)
