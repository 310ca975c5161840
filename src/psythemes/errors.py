"""Errors that psythemes reports to a user as one clear line.

Library code raises :class:`InputError` (bad files, bad tables, bad options) with the
file and, where it applies, the line.  The CLI turns it into ``error: ...`` on stderr
and exit code 2; scripts can catch it like any exception.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class PsythemesError(Exception):
    """Base class of every error psythemes raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return f"{where}{self.message}"


class InputError(PsythemesError):
    """A file, table or option that psythemes cannot use as given."""


def did_you_mean(word: str, options: Any, cutoff: float = 0.6) -> str:
    """``" (did you mean 'x'?)"`` with the option closest to ``word``, or ``""``: to end a message with."""
    import difflib

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


class PsythemesWarning(UserWarning):
    """Something the user should know about, that does not stop the run."""


#: Whether messages may quote transcript text (``--verbose``; ``PSYTHEMES_VERBOSE=1``).  Off by
#: default: transcripts are health data, and warnings and errors end up in logs, so by default
#: they name the document and the position, never the words.
SHOW_TEXT = False


def set_show_text(on: bool) -> None:
    """Let messages quote transcript text (the CLI's ``--verbose``)."""
    global SHOW_TEXT
    SHOW_TEXT = bool(on)


def show_text() -> bool:
    """Whether messages may quote transcript text: :data:`SHOW_TEXT` (``--verbose``) or
    ``PSYTHEMES_VERBOSE``."""
    import os

    return SHOW_TEXT or os.environ.get("PSYTHEMES_VERBOSE", "") not in ("", "0")


def excerpt(text: str, limit: int = 60) -> str:
    """``": 'text...'"`` to end a message with, when quoting is allowed (:func:`show_text`);
    ``""`` otherwise."""
    if not show_text():
        return ""
    text = text.strip()
    return f": {text[:limit] + ('...' if len(text) > limit else '')!r}"


class NotFittedError(PsythemesError, ValueError, AttributeError):
    """A learned attribute or a method that needs ``fit`` was used before ``fit`` (or ``load``).

    Also a ``ValueError`` and an ``AttributeError``, as scikit-learn's ``NotFittedError`` is, so
    code written against scikit-learn estimators catches it.
    """
