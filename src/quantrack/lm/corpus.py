"""Texts into fixed token windows: the one definition of "perplexity on these texts" quantrack uses.

The texts are joined with :data:`JOINER`, tokenized once without special tokens (no BOS is
added: the figure does not depend on a tokenizer's default), and cut into consecutive,
non-overlapping windows of ``context`` tokens (stride = context). A tail shorter than one window
is dropped, and the count says so. In each window the model predicts tokens 2..context from the
ones before them, so every window scores ``context - 1`` tokens and the perplexity is
``exp(total NLL / tokens scored)``. The same convention at another window or stride gives
another number (DESIGN.md: 38.9 to 45.3 on one text), so :class:`WindowSpec` records all of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from quantrack.errors import QuantrackError

JOINER = "\n\n"  # between texts: a paragraph break, as documents are usually concatenated
PYDOC = "pydoc"  # the --text value that names CPython's own pydoc_data.topics text
MAX_TEXT_BYTES = 64 * 1024 * 1024  # a text file larger than this is not a perplexity corpus for a CPU run


@dataclass(frozen=True)
class WindowSpec:
    """How the scored tokens were chosen: enough to reproduce the perplexity by hand."""

    joiner: str
    texts: int
    context: int
    stride: int
    tokens: int  # tokens in the joined text
    windows: int
    tokens_scored: int  # windows x (context - 1)
    tokens_dropped: int  # tokens after the last window (the tail shorter than one, and any beyond max_windows)
    special_tokens: bool = False  # add_special_tokens passed to the tokenizer

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        return (f"{self.texts} text(s) joined with {self.joiner!r}, {self.tokens:,} tokens, no special tokens; "
                f"{self.windows} windows of {self.context} tokens, stride {self.stride}, {self.tokens_scored:,} "
                f"tokens scored (context - 1 per window), {self.tokens_dropped:,} tokens after the last window "
                f"not scored")


@dataclass(frozen=True)
class Windows:
    spec: WindowSpec
    ids: np.ndarray  # int64 [windows, context]


def pydoc_texts() -> list[str]:
    """CPython's own English text (the pydoc topics), sorted by topic: a corpus that ships with Python."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise QuantrackError("this Python has no pydoc_data.topics; pass a text file instead of --text pydoc") from None
    return [topics[k] for k in sorted(topics)]


def read_text(path: str | Path) -> str:
    """A UTF-8 text file, refused in one line when it is missing, empty, binary or huge."""
    p = Path(path)
    if not p.is_file():
        raise QuantrackError(f"text file {p} does not exist" if not p.exists() else f"{p} is not a file")
    size = p.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise QuantrackError(f"{p} has {size:,} bytes; a perplexity corpus here should be under {MAX_TEXT_BYTES:,}")
    data = p.read_bytes()
    if b"\x00" in data:
        raise QuantrackError(f"{p} is binary (it holds NUL bytes), not a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise QuantrackError(f"{p} is not UTF-8 text (byte {e.start} cannot be decoded)") from None
    if not text.strip():
        raise QuantrackError(f"{p} is empty")
    return text


def texts_from(sources: Sequence[str | Path]) -> list[str]:
    """Each source is a text file, or :data:`PYDOC` for CPython's pydoc topics."""
    out: list[str] = []
    for s in sources:
        out.extend(pydoc_texts() if str(s) == PYDOC else [read_text(s)])
    return out


def check_texts(texts: Any, what: str = "texts") -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, (list, tuple)) or not texts or not all(isinstance(t, str) for t in texts):
        raise QuantrackError(f"{what} must be a non-empty list of strings")
    if not any(t.strip() for t in texts):
        raise QuantrackError(f"{what} hold no text (only whitespace)")
    return list(texts)


def token_ids(tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
    encoded = tokenizer(JOINER.join(texts), add_special_tokens=False)["input_ids"]
    return np.asarray(encoded, dtype=np.int64)


def make_windows(tokenizer: Any, texts: Sequence[str], context: int, *, max_windows: int | None = None,
                 what: str = "texts") -> Windows:
    """Consecutive windows of ``context`` tokens over the joined texts (at most ``max_windows``)."""
    if not (isinstance(context, int) and context >= 2):
        raise QuantrackError(f"context must be an integer >= 2 tokens, got {context!r}")
    texts = check_texts(texts, what)
    ids = token_ids(tokenizer, texts)
    n = len(ids) // context
    if n == 0:
        raise QuantrackError(f"{what} have {len(ids)} tokens, shorter than one window of {context}; "
                             "give more text or a smaller context")
    if max_windows is not None:
        n = min(n, max_windows)
    used = ids[: n * context].reshape(n, context)
    spec = WindowSpec(joiner=JOINER, texts=len(texts), context=context, stride=context, tokens=int(len(ids)),
                      windows=n, tokens_scored=n * (context - 1), tokens_dropped=int(len(ids) - n * context))
    return Windows(spec, used)
