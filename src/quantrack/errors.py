"""The one exception type a user sees: its message is printed as a single line."""


class QuantrackError(Exception):
    """Bad input or an unusable environment; the CLI prints it as one line and exits 2."""


class Interrupted(QuantrackError):
    """Ctrl-C or SIGTERM where the usual "run marked FAILED" line would be wrong; its own line, exit 130."""

    exit_code = 130


class TrackingError(QuantrackError):
    """The tracking server refused us or could not be reached."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none), for one-line reports."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


# What a full disk (or an exhausted quota) looks like on the way up: the OSError itself (ENOSPC,
# EDQUOT), SQLite's own wording (a store on that disk), or either wrapped by a library (MLflow, shutil).
_DISK_FULL_TEXT = ("No space left on device", "database or disk is full", "Disk quota exceeded")


def disk_full(e: BaseException) -> str | None:
    """One line for a failure caused by a full disk, or None. Walks the causes: libraries wrap the OSError."""
    import errno

    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        full = (isinstance(cur, OSError) and cur.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", 122))) or \
            any(t in str(cur) for t in _DISK_FULL_TEXT)
        if full:
            where = getattr(cur, "filename", None)
            return (f"no space left on the device{f' holding {where}' if where else ''}: free some space, or give "
                    "--out (and the tracking store) a disk with room; the MLflow run, if one had started, is marked "
                    "FAILED and its unfinished folder removed")
        cur = cur.__cause__ or cur.__context__
    return None
