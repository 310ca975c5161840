"""The stage tables on disk: one reader and one writer per table, each with one policy.

A file means the same whichever command wrote it: ``segments.csv`` is read by
:func:`read_segments` everywhere, a theme's quotes are parsed by :func:`parse_quotes`
everywhere.  Stage modules work in memory and never read or write these files themselves;
the file-level jobs (:mod:`psythemes.jobs`, :mod:`psythemes.pipeline`) call this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_segments", "parse_quotes", "quote_texts"]


def read_segments(path: str | Path) -> pd.DataFrame:
    """Read a segment table (``segments.csv`` as psythemes writes it).

    Texts are kept verbatim (``"NA"`` or an empty cell is text, not missing); ``doc_id``,
    ``segment_id``, ``start``, ``end`` and ``text`` are required, the other
    :data:`~psythemes.schema.SEGMENT_COLUMNS` are added empty when absent; offsets must be
    integers and times numbers.

    Raises
    ------
    InputError
        Missing file, unreadable table, missing columns or non-integer offsets (with the line).
    """
    import pandas as pd

    from .schema import SEGMENT_COLUMNS

    path = Path(path)
    if not path.is_file():
        raise InputError("segments file not found", path=path)
    from .validate import check_rectangular, check_segment_table

    text_columns = ["doc_id", "segment_id", "speaker", "role", "text"]
    check_rectangular(path, what="segments table")
    try:
        frame = pd.read_csv(path, dtype={c: str for c in text_columns}, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputError(f"cannot read segments table: {err}", path=path) from None
    required = ["doc_id", "segment_id", "start", "end", "text"]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"segments table lacks column(s) {', '.join(missing)} (expected {', '.join(SEGMENT_COLUMNS)})",
                         path=path, line=1)
    for column in ("start", "end"):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | (values != values.round())
        if bad.any():
            line = int(bad.to_numpy().nonzero()[0][0]) + 2
            raise InputError(f"column {column!r} must hold integer offsets", path=path, line=line)
        frame[column] = values.astype(int)
    for column in SEGMENT_COLUMNS:
        if column not in frame.columns:
            frame[column] = "" if column in text_columns else float("nan")
    for column in ("t_start", "t_end"):
        frame[column] = pd.to_numeric(frame[column].replace("", float("nan")), errors="coerce")
    check_segment_table(frame, path)  # unique ids, ordered offsets that match the text
    from .validate import text_lengths_near

    frame.attrs["text_lengths"] = text_lengths_near(path)  # for gold spans read against this table
    return frame


def parse_quotes(value: Any) -> list[dict[str, Any]]:
    """The quotes of a ``themes.csv`` row's ``top_quotes`` cell, as dicts.

    The inverse of how :class:`ThemeDiscoverer` writes them (a JSON list of
    ``{doc_id, segment_id, start, end, speaker, role, text}``); also accepts a list or dict
    already parsed, and plain ``' | '``-joined quotes from hand-made theme tables.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [{"text": q.strip()} for q in value.split(" | ") if q.strip()]
    if isinstance(value, Mapping):
        value = [value]
    return [q if isinstance(q, Mapping) else {"text": str(q)} for q in value]


def quote_texts(themes: pd.DataFrame) -> dict[Any, list[str]]:
    """``theme_id`` -> the texts of its quotes (:func:`parse_quotes` of each ``top_quotes`` cell),
    as :func:`psythemes.mapping.map_themes` takes them."""
    return {row["theme_id"]: [q.get("text", "") for q in parse_quotes(row.get("top_quotes"))]
            for row in themes.to_dict("records")}
