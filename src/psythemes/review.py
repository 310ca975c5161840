"""The review sheet: machine suggestions out to the researcher, decisions back in as gold.

``psythemes review RUN_DIR --out review.xlsx`` writes one row per suggestion of a run
(``codes.csv``): the segment, its speaker, the turn before it, the suggested code with its
score and evidence, and empty ``decision``, ``memo`` and ``reviewer`` columns.  The
decision is ``accept``, ``reject`` or the name of another code (a drop-down lists them; a
cell may hold several codes separated by ``;``).  The sheet is an ``.xlsx`` (openpyxl:
frozen header, wrapped text, set widths) or a UTF-8 CSV with a byte-order mark, which
Excel, LibreOffice and Numbers all open with the right characters.

A filled-in sheet reads back as gold (:func:`read_review`, and ``--gold review.xlsx``
wherever gold is read): each reviewed segment gets the codes the reviewer accepted or
named, with the reviewer as coder.  Reading is by column name and by the key columns
``doc_id, start, end`` (re-sorting, filtering or adding columns is harmless).  Hostile
cells are handled as follows: a formula counts by the value the spreadsheet program saved
with it (a formula with no saved value is an :class:`~psythemes.errors.InputError`);
empty rows and rows without a decision are skipped (counted); a merged range's value
applies to every cell in it; a code not in the codebook is an ``InputError`` naming the
row.  What the reviewer decided on a segment is all that is known about it: segments that
no row of the sheet covers are *not reviewed* (see :attr:`ReviewDecisions.reviewed`).
"""

from __future__ import annotations

import csv
import io as _io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, PsythemesWarning
from .schema import GOLD_COLUMNS

# a run folder is read by psythemes.tables (the same readers as every other command); the names stay here
from .tables import RunTables
from .tables import read_run as load_run

__all__ = [
    "REVIEW_COLUMNS",
    "ACCEPT",
    "REJECT",
    "RunTables",
    "ReviewDecisions",
    "load_run",
    "review_table",
    "write_review_sheet",
    "read_review",
    "review_run",
    "reviewed_rows",
]

#: Columns of a review sheet, in order.
REVIEW_COLUMNS: list[str] = [
    "doc_id", "start", "end", "speaker", "turn_before", "text", "suggested_code", "score", "evidence",
    "decision", "memo", "reviewer", "segment_id",
]
ACCEPT = "accept"
REJECT = "reject"
#: Words taken as accept / reject in the decision column (case-insensitive).
_ACCEPT_WORDS = {"accept", "accepted", "yes", "y", "ok", "agree", "✓", "✔"}
_REJECT_WORDS = {"reject", "rejected", "no", "n", "x", "disagree", "✗", "✘"}
#: Coder name for decisions whose reviewer is not known (with a warning).
DEFAULT_REVIEWER = "reviewer"
_KEYS = ["doc_id", "start", "end"]
_SHEET = "review"
_LIST_SHEET = "codes"
#: Column widths (characters) in the .xlsx.
_WIDTHS = {"doc_id": 12, "start": 7, "end": 7, "speaker": 12, "turn_before": 45, "text": 60, "suggested_code": 18,
           "score": 7, "evidence": 40, "decision": 18, "memo": 30, "reviewer": 12, "segment_id": 18}
_WRAP = {"turn_before", "text", "evidence", "memo"}
#: Characters that make a spreadsheet program read a CSV cell as a formula.
_FORMULA_START = ("=", "+", "@", "\t", "\r")


@dataclass(frozen=True)
class ReviewDecisions:
    """A filled-in review sheet, read.

    Attributes
    ----------
    gold : DataFrame
        :data:`~psythemes.schema.GOLD_COLUMNS`: one row per reviewed segment and code it has.
    reviewed : DataFrame
        ``doc_id, start, end, coder, codes`` for every segment with a decision (``codes``
        is a tuple, empty when every suggestion for it was rejected).
    n_rows : int
        Rows with a segment key.
    n_undecided : int
        Of those, rows with no decision (skipped).
    """

    gold: pd.DataFrame
    reviewed: pd.DataFrame
    n_rows: int
    n_undecided: int


# ----------------------------------------------------------------------------- building the sheet


def _turn_index(transcripts: Sequence[Any]) -> dict[str, tuple[list[int], list[Any], str]]:
    """Per document: turn starts, turns and text, for :func:`_previous_turn`."""
    index: dict[str, tuple[list[int], list[Any], str]] = {}
    for t in transcripts:
        turns = sorted(t.turns, key=lambda u: u.start)
        index[t.doc_id] = ([u.start for u in turns], turns, t.text)
    return index


def _previous_turn(index: Any, doc_id: str, start: int) -> str:
    import bisect

    found = index.get(doc_id)
    if not found:
        return ""
    starts, turns, text = found
    i = bisect.bisect_right(starts, start) - 1  # the turn the segment starts in
    if i < 1:
        return ""
    prev = turns[i - 1]
    return f"{prev.speaker}: {' '.join(text[prev.start:prev.end].split())}"


def review_table(run: RunTables, *, segment_ids: Sequence[str] | None = None,
                 suggestions: pd.DataFrame | None = None, reviewer: str = "") -> pd.DataFrame:
    """The rows of a review sheet (:data:`REVIEW_COLUMNS`).

    Parameters
    ----------
    run : RunTables
        From :func:`load_run` (:func:`psythemes.tables.read_run`).
    segment_ids : sequence of str, optional
        Only these segments, in this order; a segment without a suggestion gets one row with
        an empty ``suggested_code`` (the reviewer names its codes, or accepts "no code").
        Default: every segment with a suggestion, in text order.
    suggestions : DataFrame, optional
        ``segment_id, code, score[, evidence]`` to show instead of the run's ``codes.csv``.
    reviewer : str
        Pre-filled in the ``reviewer`` column.
    """
    segs = run.segments.set_index("segment_id", drop=False)
    codes = run.codes if suggestions is None else suggestions
    codes = codes[codes["code"].astype(str) != ""]
    by_segment = {sid: grp for sid, grp in codes.groupby("segment_id", sort=False)}
    if segment_ids is None:
        order = [sid for sid in segs["segment_id"] if sid in by_segment]
    else:
        missing = [s for s in segment_ids if s not in segs.index]
        if missing:
            raise InputError(f"{len(missing)} segment(s) not in the run, e.g. {missing[0]!r}")
        order = list(segment_ids)
    index = _turn_index(run.transcripts)
    rows = []
    for sid in order:
        seg = segs.loc[sid]
        base = {"doc_id": seg["doc_id"], "start": int(seg["start"]), "end": int(seg["end"]),
                "speaker": "" if pd.isna(seg["speaker"]) else str(seg["speaker"]),
                "turn_before": _previous_turn(index, str(seg["doc_id"]), int(seg["start"])),
                "text": str(seg["text"]), "decision": "", "memo": "", "reviewer": reviewer, "segment_id": sid}
        group = by_segment.get(sid)
        if group is None:
            rows.append({**base, "suggested_code": "", "score": np.nan, "evidence": ""})
            continue
        for rec in group.sort_values("score", ascending=False, kind="stable").to_dict("records"):
            evidence = rec.get("evidence", "")
            rows.append({**base, "suggested_code": rec["code"], "score": round(float(rec["score"]), 3)
                         if pd.notna(rec.get("score")) else np.nan,
                         "evidence": "" if pd.isna(evidence) else str(evidence)})
    return pd.DataFrame(rows, columns=REVIEW_COLUMNS)


def write_review_sheet(table: pd.DataFrame, path: str | Path, *, codes: Sequence[str]) -> Path:
    """Write a review sheet as ``.xlsx`` (by suffix) or as a UTF-8-with-BOM ``.csv``, atomically.

    Parameters
    ----------
    table : DataFrame
        From :func:`review_table`.
    path : path
        ``.xlsx`` or ``.csv``.
    codes : sequence of str
        Code names for the decision drop-down (after ``accept`` and ``reject``).
    """
    from .outputs import write_bytes

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return write_bytes(path, _xlsx_bytes(table, codes))
    if suffix == ".csv":
        buffer = _io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(REVIEW_COLUMNS)
        for rec in table[REVIEW_COLUMNS].itertuples(index=False):
            writer.writerow(["" if _blank(v) else _csv_safe(v) for v in rec])
        return write_bytes(path, buffer.getvalue().encode("utf-8-sig"))
    raise InputError(f"review sheet must be .xlsx or .csv, not {path.suffix or 'no suffix'!r}", path=path)


def _csv_safe(value: Any) -> Any:
    """Keep a spreadsheet program from running segment text as a formula ("CSV injection")."""
    if isinstance(value, str) and (value.startswith(_FORMULA_START) or (value.startswith("-") and value[1:2].strip()
                                                                         and not value[1:2].isdigit())):
        return "'" + value
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _xlsx_bytes(table: pd.DataFrame, codes: Sequence[str]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from .workbook import excel_text

    wb = Workbook()
    ws = wb.active
    ws.title = _SHEET
    ws.append(REVIEW_COLUMNS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDDDDD")
    for rec in table[REVIEW_COLUMNS].itertuples(index=False):
        ws.append([None if _blank(v) else excel_text(v) if isinstance(v, str) else v for v in rec])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text that starts with "=" stays text, never a formula
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    for j, name in enumerate(REVIEW_COLUMNS, start=1):
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = _WIDTHS.get(name, 12)
        for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
            cell.alignment = wrap if name in _WRAP else top
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(REVIEW_COLUMNS))}{max(ws.max_row, 2)}"
    # the drop-down list lives on its own sheet: an inline list is limited to 255 characters
    lists = wb.create_sheet(_LIST_SHEET)
    options = [ACCEPT, REJECT, *codes]
    for value in options:
        lists.append([value])
        lists.cell(lists.max_row, 1).data_type = "s"
    lists.sheet_state = "hidden"
    col = get_column_letter(REVIEW_COLUMNS.index("decision") + 1)
    validation = DataValidation(type="list", formula1=f"={_LIST_SHEET}!$A$1:$A${len(options)}", allow_blank=True,
                                showErrorMessage=True, errorStyle="warning", errorTitle="decision",
                                error="accept, reject or a code of the codebook (several codes: separate with ;)",
                                promptTitle="decision", prompt="accept, reject, or the code that applies instead",
                                showInputMessage=True)
    validation.add(f"{col}2:{col}{max(ws.max_row, 2) + 500}")
    ws.add_data_validation(validation)
    buffer = _io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def review_run(run_dir: str | Path, out: str | Path, *, reviewer: str = "", min_score: float | None = None) -> dict:
    """``psythemes review``: write the review sheet of a run.

    Returns
    -------
    dict
        ``n_rows``, ``n_segments``, ``out`` and, when ``out`` is an ``.xlsx``, ``csv`` (the
        same rows as UTF-8-with-BOM CSV beside it).
    """
    run = load_run(run_dir)
    suggestions = run.codes
    if min_score is not None:
        suggestions = suggestions[suggestions["score"] >= min_score]
    table = review_table(run, suggestions=suggestions, reviewer=reviewer)
    out = Path(out)
    written = write_review_sheet(table, out, codes=run.codebook.names)
    info = {"n_rows": len(table), "n_segments": int(table["segment_id"].nunique()), "out": str(written)}
    if out.suffix.lower() == ".xlsx":
        info["csv"] = str(write_review_sheet(table, out.with_suffix(".csv"), codes=run.codebook.names))
    return info


# ----------------------------------------------------------------------------- reading it back


def read_review(path: str | Path, *, codes: Sequence[str] | None = None) -> ReviewDecisions:
    """Read a filled-in review sheet (``.xlsx`` or ``.csv``) as gold codes.

    Parameters
    ----------
    path : path
    codes : sequence of str, optional
        The codebook's code names; a decision naming another code is an
        :class:`~psythemes.errors.InputError`.  Default: any name is taken.

    Returns
    -------
    ReviewDecisions
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("review sheet not found", path=path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        rows, default_reviewer = _xlsx_rows(path)
    else:
        rows, default_reviewer = _csv_rows(path), ""
    return _decisions(rows, path, codes, default_reviewer)


def _header_index(header: Sequence[Any], path: Path) -> dict[str, int]:
    names = [str(h).strip().lower() if h is not None else "" for h in header]
    needed = [*_KEYS, "decision"]
    missing = [c for c in needed if c not in names]
    if missing:
        raise InputError(f"not a review sheet: no column(s) {', '.join(missing)} in the header row", path=path)
    return {name: names.index(name) for name in dict.fromkeys(names) if name}


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("review sheet CSV is not UTF-8 (save it as 'CSV UTF-8')", path=path) from None
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","  # Excel in many locales writes ';'
    reader = list(csv.reader(_io.StringIO(text), delimiter=delimiter))
    if not reader:
        raise InputError("review sheet is empty", path=path)
    index = _header_index(reader[0], path)
    out = []
    for lineno, raw in enumerate(reader[1:], start=2):
        out.append((lineno, {k: (raw[i] if i < len(raw) else "") for k, i in index.items()}))
    return out


def _xlsx_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], str]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        formulas = load_workbook(path, data_only=False)
        values = load_workbook(path, data_only=True)
    except (BadZipFile, InvalidFileException, KeyError, OSError) as err:
        raise InputError(f"cannot read the review sheet as .xlsx: {err}", path=path) from None
    name = _SHEET if _SHEET in formulas.sheetnames else formulas.sheetnames[0]
    ws_f, ws_v = formulas[name], values[name]
    grid_f = [list(r) for r in ws_f.iter_rows(values_only=True)]
    grid_v = [list(r) for r in ws_v.iter_rows(values_only=True)]
    # a merged range shows its value in the top-left cell only: it applies to every cell of it
    for rng in ws_f.merged_cells.ranges:
        top = grid_f[rng.min_row - 1][rng.min_col - 1] if rng.min_row - 1 < len(grid_f) else None
        top_v = grid_v[rng.min_row - 1][rng.min_col - 1] if rng.min_row - 1 < len(grid_v) else None
        for r in range(rng.min_row - 1, min(rng.max_row, len(grid_f))):
            for c in range(rng.min_col - 1, rng.max_col):
                if c < len(grid_f[r]):
                    grid_f[r][c], grid_v[r][c] = top, top_v
    if not grid_f:
        raise InputError("review sheet is empty", path=path)
    header_row = next((i for i, r in enumerate(grid_f[:20])
                       if {"doc_id", "decision"} <= {str(v).strip().lower() for v in r if v is not None}), 0)
    index = _header_index(grid_f[header_row], path)
    out = []
    for i in range(header_row + 1, len(grid_f)):
        rec: dict[str, Any] = {}
        for key, j in index.items():
            raw = grid_f[i][j] if j < len(grid_f[i]) else None
            if isinstance(raw, str) and raw.startswith("=") and key in (*_KEYS, "decision", "reviewer"):
                cached = grid_v[i][j] if j < len(grid_v[i]) else None
                if cached is None:
                    raise InputError(f"{key} cell holds a formula ({raw[:40]}) with no saved value; type the "
                                     "value instead", path=path, line=i + 1)
                raw = cached
            rec[key] = raw
        out.append((i + 1, rec))
    props = formulas.properties
    reviewer = next((str(p).strip() for p in (props.lastModifiedBy, props.creator)
                     if p and str(p).strip() and str(p).strip().lower() != "openpyxl"), "")
    return out, reviewer


def _cell_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _decisions(rows: list[tuple[int, dict[str, Any]]], path: Path, codes: Sequence[str] | None,
               default_reviewer: str) -> ReviewDecisions:
    known = list(codes) if codes is not None else None
    by_lower = {c.lower(): c for c in known} if known is not None else {}
    segments: dict[tuple[str, int, int, str], set[str]] = {}
    n_rows = n_undecided = 0
    guessed_reviewer = 0
    for lineno, rec in rows:
        cells = {k: _cell_text(v) for k, v in rec.items()}
        if not any(cells.values()):
            continue  # an empty row
        doc, start, end = cells.get("doc_id", ""), cells.get("start", ""), cells.get("end", "")
        decision = cells.get("decision", "")
        if not (doc or start or end):
            if decision:
                raise InputError("a decision on a row without doc_id, start and end", path=path, line=lineno)
            continue  # a note the reviewer typed below the table
        try:
            s, e = int(start), int(end)
        except ValueError:
            raise InputError(f"start and end must be whole numbers, got {start!r} and {end!r}", path=path,
                             line=lineno) from None
        if not doc or s < 0 or e <= s:
            raise InputError(f"row names no valid segment (doc_id {doc!r}, [{s}, {e}))", path=path, line=lineno)
        n_rows += 1
        if not decision:
            n_undecided += 1
            continue
        reviewer = cells.get("reviewer", "") or default_reviewer
        if not reviewer:
            reviewer = DEFAULT_REVIEWER
            guessed_reviewer += 1
        chosen = segments.setdefault((doc, s, e, reviewer), set())
        word = decision.lower()
        if word in _ACCEPT_WORDS:
            suggested = cells.get("suggested_code", "")
            if suggested:
                chosen.add(_known_code(suggested, by_lower, known, path, lineno))
        elif word in _REJECT_WORDS:
            pass
        else:
            for name in (p.strip() for p in decision.replace(",", ";").split(";")):
                if name:
                    chosen.add(_known_code(name, by_lower, known, path, lineno))
    if guessed_reviewer:
        warnings.warn(f"{path}: {guessed_reviewer} decision(s) have no reviewer name; recorded as coder "
                      f"{DEFAULT_REVIEWER!r} (fill the reviewer column, or 'psythemes review --reviewer NAME')",
                      PsythemesWarning, stacklevel=3)
    gold_rows = [(d, s, e, c, r) for (d, s, e, r), chosen in segments.items() for c in sorted(chosen)]
    gold = pd.DataFrame(gold_rows, columns=GOLD_COLUMNS)
    reviewed = pd.DataFrame([(d, s, e, r, tuple(sorted(c))) for (d, s, e, r), c in segments.items()],
                            columns=["doc_id", "start", "end", "coder", "codes"])
    return ReviewDecisions(gold=gold, reviewed=reviewed, n_rows=n_rows, n_undecided=n_undecided)


def _known_code(name: str, by_lower: dict[str, str], known: list[str] | None, path: Path, lineno: int) -> str:
    if known is None:
        return name
    if name in known:
        return name
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    raise InputError(f"decision names code {name!r}, which is not in the codebook "
                     f"(accept, reject or one of: {', '.join(known)})", path=path, line=lineno)


def reviewed_rows(segments: pd.DataFrame, spans: Sequence[tuple[str, int, int]],
                  full_docs: Sequence[str] = ()) -> np.ndarray:
    """Positions of the segments a review sheet decided on (``spans``), plus every segment of
    ``full_docs`` (documents fully coded in a gold CSV or ``.qdpx`` given alongside)."""
    wanted = {(str(d), int(a), int(b)) for d, a, b in spans}
    full = {str(d) for d in full_docs}
    mask = [(str(d), int(a), int(b)) in wanted or str(d) in full
            for d, a, b in zip(segments["doc_id"], segments["start"], segments["end"], strict=True)]
    return np.flatnonzero(np.asarray(mask, dtype=bool))
