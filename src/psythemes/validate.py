"""One validation for every input table: shape, unique ids, offsets, known codes, with the row named.

Tables come from people and from other tools: a row with a field too many (a comma in an
unquoted note), the same unit twice, a span that runs backwards or past the end of its text, a
code that is not in the codebook.  pandas reads most of these without complaint and the
numbers come out wrong; these checks stop them with an :class:`~psythemes.errors.InputError`
(exit 2) that names the file and the line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import InputError

__all__ = ["check_rectangular", "check_unique", "check_spans", "check_segment_table", "check_known_codes",
           "check_regular_file", "inside_folder", "check_seed", "text_lengths_near", "texts_near"]


def check_rectangular(path: str | Path, *, what: str = "table", encoding: str = "utf-8-sig",
                      delimiter: str = ",", text: str | None = None) -> None:
    """Every non-blank row of a CSV has as many fields as its header (ragged rows are an error).

    pandas fills a short row with missing values and, when every row has one field more than
    the header, silently uses the first column as the index: the columns shift by one.
    """
    if text is None:
        try:
            text = Path(path).read_text(encoding=encoding)
        except (OSError, UnicodeDecodeError):
            return  # the reader itself reports these, with its own wording
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(f"{what}: row has {len(row)} fields, the header has {len(header)}",
                                 path=path, line=reader.line_num)
    except csv.Error as err:
        raise InputError(f"{what}: cannot read as CSV ({err})", path=path, line=reader.line_num) from None


def _where(frame: pd.DataFrame, pos: int) -> int | None:
    """Line number of row ``pos`` (the ``_line`` column or ``attrs['lines']`` when the reader kept it)."""
    if "_line" in frame.columns:
        return int(frame["_line"].iloc[pos])
    lines = frame.attrs.get("lines")
    if lines is not None and pos < len(lines):
        return int(lines[pos])
    return None


def _row(frame: pd.DataFrame, pos: int) -> str:
    return f"row {pos + 1}"


def check_unique(frame: pd.DataFrame, columns: str | list[str], *, what: str, path: str | Path | None = None) -> None:
    """Raise on the first row whose value(s) in ``columns`` repeat an earlier row's."""
    cols = [columns] if isinstance(columns, str) else list(columns)
    dup = frame.duplicated(subset=cols, keep="first").to_numpy()
    if dup.any():
        pos = int(dup.nonzero()[0][0])
        key = ", ".join(f"{c}={frame[c].iloc[pos]!r}" for c in cols)
        first = int((frame[cols] == frame[cols].iloc[pos]).all(axis=1).to_numpy().nonzero()[0][0])
        raise InputError(f"{what}: {_row(frame, pos)} repeats {key} of {_row(frame, first)}; ids must be unique",
                         path=path, line=_where(frame, pos))


def check_spans(frame: pd.DataFrame, *, what: str, path: str | Path | None = None,
                text_lengths: Mapping[str, int] | None = None, allow_empty: bool = True) -> None:
    """``0 <= start <= end`` (``<`` when not ``allow_empty``) and, with ``text_lengths``,
    ``end <= len(text)`` of the row's document; the first breach names its row."""
    start = pd.to_numeric(frame["start"], errors="coerce").to_numpy()
    end = pd.to_numeric(frame["end"], errors="coerce").to_numpy()
    bad = (start < 0) | ((end < start) if allow_empty else (end <= start))
    if bad.any():
        pos = int(bad.nonzero()[0][0])
        raise InputError(f"{what}: {_row(frame, pos)} has span [{start[pos]:.0f}, {end[pos]:.0f}): offsets must "
                         f"satisfy 0 <= start {'<=' if allow_empty else '<'} end", path=path, line=_where(frame, pos))
    if text_lengths is not None:
        limit = frame["doc_id"].astype(str).map(text_lengths).to_numpy(dtype=float)
        beyond = end > limit  # NaN (unknown document) compares False
        if beyond.any():
            pos = int(beyond.nonzero()[0][0])
            raise InputError(
                f"{what}: {_row(frame, pos)} ends at {end[pos]:.0f}, beyond the {limit[pos]:.0f} characters of "
                f"{frame['doc_id'].iloc[pos]}'s text (made on another version of the text?)",
                path=path, line=_where(frame, pos))


def check_segment_table(frame: pd.DataFrame, path: str | Path | None = None) -> None:
    """A segment table as psythemes writes it: unique ``segment_id``, ordered offsets, and
    ``len(text) == end - start`` (a segment's text is ``transcript.text[start:end]``), so huge or
    shifted offsets cannot put a code on the wrong words."""
    what = "segments table"
    check_unique(frame, "segment_id", what=what, path=path)
    check_spans(frame, what=what, path=path)
    lengths = frame["text"].astype(str).str.len().to_numpy()
    spans = (pd.to_numeric(frame["end"]) - pd.to_numeric(frame["start"])).to_numpy()
    bad = lengths != spans
    if bad.any():
        pos = int(bad.nonzero()[0][0])
        raise InputError(f"{what}: {_row(frame, pos)} (segment_id {frame['segment_id'].iloc[pos]}) has "
                         f"{lengths[pos]} characters of text but offsets [{frame['start'].iloc[pos]}, "
                         f"{frame['end'].iloc[pos]}) span {spans[pos]}: the offsets do not belong to this text",
                         path=path, line=_where(frame, pos))


def check_known_codes(frame: pd.DataFrame, codes: Iterable[str] | None, *, what: str,
                      path: str | Path | None = None, column: str = "code") -> None:
    """Every code of ``frame[column]`` is one of ``codes`` (skipped when ``codes`` is None)."""
    if codes is None or frame.empty:
        return
    known = set(codes)
    unknown = ~frame[column].astype(str).isin(known).to_numpy()
    if unknown.any():
        pos = int(unknown.nonzero()[0][0])
        others = sorted(set(frame[column].astype(str)) - known)
        raise InputError(f"{what}: {_row(frame, pos)} has code {frame[column].iloc[pos]!r}, not in the codebook "
                         f"({len(others)} unknown: {', '.join(others[:5])}; known: {', '.join(sorted(known)[:8])})",
                         path=path, line=_where(frame, pos))


# ----------------------------------------------------------------------------- paths


def check_regular_file(path: str | Path) -> None:
    """Refuse what is not a regular file (FIFO, device such as ``/dev/zero``, socket) before reading."""
    import os
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
        raise InputError(f"is {kind}, not a regular file; give a transcript file", path=path)


def inside_folder(folder: Path, children: Iterable[Path]) -> list[Path]:
    """``children`` of ``folder`` without symlinks that lead outside it (each skipped with a warning).

    A folder of transcripts holding a link to ``/etc/passwd`` or to another project must not
    make psythemes read that file as a transcript.
    """
    import warnings

    from .errors import PsythemesWarning

    root = folder.resolve()
    kept = []
    for child in children:
        if child.is_symlink():
            target = child.resolve()
            if target != root and root not in target.parents:
                warnings.warn(f"{child}: skipped, a link to {target}, outside the input folder", PsythemesWarning,
                              stacklevel=3)
                continue
        kept.append(child)
    return kept


# ----------------------------------------------------------------------------- options


def check_seed(value: object, name: str = "random_state") -> None:
    """A seed numpy and scikit-learn accept: an integer in [0, 2**32 - 1] (or None)."""
    import numbers

    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) <= 2**32 - 1:
        raise InputError(f"{name} (--seed) must be an integer from 0 to {2**32 - 1}, not {value!r}")


def _texts_beside(segments_path: str | Path | None) -> dict[str, Any] | None:
    """``doc_id -> text`` as stored in the ``transcripts.jsonl`` beside ``segments_path``; None when
    there is none (or it cannot be read)."""
    import json

    if segments_path is None:
        return None
    path = Path(segments_path).parent / "transcripts.jsonl"
    texts: dict[str, Any] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    record = json.loads(line)
                    texts[str(record["doc_id"])] = record["text"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return texts or None


def texts_near(segments_path: str | Path | None) -> dict[str, str] | None:
    """``doc_id -> text`` from the ``transcripts.jsonl`` beside ``segments_path`` (see
    :func:`text_lengths_near`); None when there is none (or it cannot be read)."""
    texts = _texts_beside(segments_path)
    return {doc: str(text) for doc, text in texts.items()} if texts else None


def text_lengths_near(segments_path: str | Path | None) -> dict[str, int] | None:
    """``doc_id -> len(text)`` from the ``transcripts.jsonl`` that ``psythemes segment`` wrote beside
    ``segments_path``; None when there is none (or it cannot be read).

    With it, gold spans that end beyond their text (made on another version of a transcript) are
    found instead of covering every segment up to the end.
    """
    texts = _texts_beside(segments_path)
    if not texts:
        return None
    try:
        return {doc: len(text) for doc, text in texts.items()}
    except TypeError:  # a record whose text has no length: the file cannot be used
        return None
