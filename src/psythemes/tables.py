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

__all__ = ["read_segments", "parse_quotes", "quote_texts", "theme_quotes", "quotes_from_cells",
           "read_theme_quotes", "write_theme_quotes", "write_themes", "write_theme_figures"]


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

    Only for theme tables without a quotes table (hand-made, or from a REFI-QDA project):
    psythemes itself writes ``theme_quotes.csv`` (:func:`write_theme_quotes`).

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


def quote_texts(themes: pd.DataFrame, quotes: pd.DataFrame | None = None) -> dict[Any, list[str]]:
    """``theme_id`` -> the texts of its quotes, as :func:`psythemes.mapping.map_themes` takes them.

    From the long quotes table (``ThemeDiscoverer.quotes_``, ``theme_quotes.csv``) when given,
    else from the themes' ``top_quotes`` cells (:func:`theme_quotes`).
    """
    return {tid: [str(q.get("text", "")) for q in qs] for tid, qs in theme_quotes(themes, quotes).items()}


# -- themes: themes.csv, theme_quotes.csv, segment_themes.csv, themes_by_<col>.csv, figures ----

#: File names written by :func:`write_themes`.
THEMES_FILE, THEME_QUOTES_FILE, SEGMENT_THEMES_FILE = "themes.csv", "theme_quotes.csv", "segment_themes.csv"
THEMES_RUN_FILE, FIGURES_FOLDER = "themes_run.json", "figures"


def quotes_from_cells(themes: pd.DataFrame) -> pd.DataFrame:
    """The long quotes table (:data:`~psythemes.schema.THEME_QUOTE_COLUMNS`) from the
    ``top_quotes`` cells of a theme table (:func:`parse_quotes`); missing fields stay empty."""
    import pandas as pd

    from .schema import THEME_QUOTE_COLUMNS

    rows = []
    if "theme_id" in themes.columns and "top_quotes" in themes.columns:
        for tid, cell in zip(themes["theme_id"].tolist(), themes["top_quotes"].tolist()):
            for rank, quote in enumerate(parse_quotes(cell), start=1):
                rows.append({**{c: quote.get(c) for c in THEME_QUOTE_COLUMNS}, "theme_id": tid, "rank": rank})
    table = pd.DataFrame(rows, columns=THEME_QUOTE_COLUMNS)
    for column in ("start", "end", "rank"):  # offsets stay integers where a quote has none
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    return table


def theme_quotes(themes: pd.DataFrame, quotes: pd.DataFrame | None = None) -> dict[Any, list[dict[str, Any]]]:
    """``theme_id`` -> its quotes as dicts in rank order, for every row of ``themes``.

    ``quotes`` is the long table (``ThemeDiscoverer.quotes_`` or :func:`read_theme_quotes`);
    without it the themes' ``top_quotes`` cells are read (hand-made theme tables).
    """
    if quotes is None:
        quotes = quotes_from_cells(themes)
    ids = themes["theme_id"].tolist() if "theme_id" in themes.columns else []
    out: dict[Any, list[dict[str, Any]]] = {tid: [] for tid in ids}
    key = {str(tid): tid for tid in out}  # theme ids read as text or as numbers match
    records = quotes.sort_values(["theme_id", "rank"], kind="stable").to_dict("records") if len(quotes) else []
    for rec in records:
        tid = key.get(str(rec["theme_id"]))
        if tid is not None:
            out[tid].append({k: (None if _missing(v) else v) for k, v in rec.items()})
    return out


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def write_theme_quotes(path: str | Path, quotes: pd.DataFrame) -> Path:
    """Write the long quotes table (``theme_quotes.csv``), columns in schema order."""
    from .outputs import write_table
    from .schema import THEME_QUOTE_COLUMNS

    return write_table(path, quotes[THEME_QUOTE_COLUMNS])


def read_theme_quotes(path: str | Path) -> pd.DataFrame:
    """Read ``theme_quotes.csv``: texts verbatim, offsets as nullable integers.

    Raises
    ------
    InputError
        Missing file, unreadable table or missing columns.
    """
    import pandas as pd

    from .schema import THEME_QUOTE_COLUMNS

    path = Path(path)
    if not path.is_file():
        raise InputError("theme quotes file not found", path=path)
    text_columns = ["doc_id", "segment_id", "speaker", "role", "text"]
    try:
        frame = pd.read_csv(path, dtype={c: str for c in text_columns}, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputError(f"cannot read theme quotes table: {err}", path=path) from None
    missing = [c for c in ("theme_id", "rank", "text") if c not in frame.columns]
    if missing:
        raise InputError(f"theme quotes table lacks column(s) {', '.join(missing)} "
                         f"(expected {', '.join(THEME_QUOTE_COLUMNS)})", path=path, line=1)
    for column in THEME_QUOTE_COLUMNS:
        if column not in frame.columns:
            frame[column] = "" if column in text_columns else None
    for column in ("start", "end", "rank"):
        frame[column] = pd.to_numeric(frame[column].replace("", None), errors="coerce").astype("Int64")
    frame["similarity"] = pd.to_numeric(frame["similarity"].replace("", None), errors="coerce")
    return frame[THEME_QUOTE_COLUMNS]


def write_theme_figures(folder: str | Path, figures: Mapping[str, str]) -> list[Path]:
    """Write figures (file name -> HTML, :func:`psythemes.themes.figures.theme_figures`) into ``folder``."""
    from .outputs import write_text

    return [write_text(Path(folder) / name, html) for name, html in figures.items()]


def write_themes(out_dir: str | Path, discoverer: Any, *, include_segments: bool = False,
                 figures: bool = True) -> list[Path]:
    """Write a fitted :class:`~psythemes.themes.ThemeDiscoverer`'s results into ``out_dir``.

    Files: ``themes.csv``, ``theme_quotes.csv`` (the quotes, one row per quote),
    ``segment_themes.csv``, ``themes_by_<col>.csv`` for each prevalence table,
    ``themes_run.json`` (options and counts), ``figures/barchart.html`` and
    ``figures/intertopic.html`` (self-contained: plotly.js inlined) and, with
    ``include_segments``, ``segments.csv``.  The ``themes`` command and ``extract`` both write
    through this function.

    Returns
    -------
    list of Path
        The files written.
    """
    from .errors import NotFittedError
    from .outputs import prepare_out_dir, write_json, write_table
    from .themes.discoverer import column_slug

    if not hasattr(discoverer, "themes_"):
        raise NotFittedError("write_themes needs a fitted ThemeDiscoverer; call fit() first")
    out = prepare_out_dir(out_dir)
    written = [
        write_table(out / THEMES_FILE, discoverer.themes_),
        write_theme_quotes(out / THEME_QUOTES_FILE, discoverer.quotes_),
        write_table(out / SEGMENT_THEMES_FILE, discoverer.segment_themes_),
    ]
    for col, table in discoverer.prevalence_.items():
        written.append(write_table(out / f"themes_by_{column_slug(col)}.csv", table))
    if include_segments:
        written.append(write_table(out / "segments.csv", discoverer.segments_))
    written.append(write_json(out / THEMES_RUN_FILE, discoverer.summary()))
    if figures:
        from .themes.figures import theme_figures

        written.extend(write_theme_figures(out / FIGURES_FOLDER, theme_figures(discoverer)))
    return written

