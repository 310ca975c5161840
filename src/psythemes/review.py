"""The review sheet: machine suggestions out to the researcher, decisions back in as gold.

``psythemes review RUN_DIR --out review.xlsx`` writes one row per suggestion of a run
(``codes.csv``): the segment, its speaker, the turn before it, the suggested code with its
score and evidence, and empty ``decision``, ``memo`` and ``reviewer`` columns.  The
decision is ``accept``, ``reject`` or the name of another code (a drop-down lists them; a
cell may hold several codes separated by ``;``).  A sheet that holds decisions is never
replaced without ``overwrite`` (:func:`check_review_out`).  The sheet is an ``.xlsx`` (openpyxl:
frozen header, wrapped text, set widths) or a UTF-8 CSV with a byte-order mark, which
Excel, LibreOffice and Numbers all open with the right characters.

A filled-in sheet reads back as gold (:func:`psythemes.tables.read_review`, and ``--gold review.xlsx``
wherever gold is read): each reviewed segment gets the codes the reviewer accepted or
named, with the reviewer as coder.  Reading is by column name and by the key columns
``doc_id, start, end`` (re-sorting, filtering or adding columns is harmless).  Hostile
cells are handled as follows: a formula counts by the value the spreadsheet program saved
with it (a formula with no saved value is an :class:`~psythemes.errors.InputError`);
empty rows and rows without a decision are skipped (counted); a merged range's value
applies to every cell in it; code names are matched as in gold files (case, punctuation and
spacing, with a warning naming each guess: :func:`psythemes.codebook.resolve_code_names`); a
cell that names a code whole is never split (a name may hold a comma), ``;`` separates codes
(a comma only where every piece is a code); ``accept``/``reject`` written with code names,
and codes not in the codebook, are one ``InputError`` naming the rows (up to ten faults, each
with its lines); so are ``x`` (accept or reject?), ``accept`` in a sheet without its
``suggested_code`` column, and two rows deciding differently on one suggestion.  Other words
for accept and reject (``yes``, ``n`` ...) are counted in a warning; when several sheets decide
on one segment for one reviewer, the later one wins (a warning counts the changed segments).
What the reviewer decided on a segment is all that is known about it: segments that no row of
the sheet covers are *not reviewed* (see :attr:`psythemes.tables.ReviewDecisions.reviewed`).

This module builds the sheet's rows in memory (:func:`review_table`) and finds the segments a
sheet decided on (:func:`reviewed_rows`); the sheet on disk is written and read by
:mod:`psythemes.tables` (:func:`~psythemes.tables.write_review_sheet`,
:func:`~psythemes.tables.read_review`) and ``psythemes review`` is :func:`psythemes.jobs.review_run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._moved import forward
from .errors import InputError

# the sheet's layout, reader and writer live in psythemes.tables, the job in psythemes.jobs; the names stay here
from .tables import REVIEW_COLUMNS, RunTables
from .tables import read_run as load_run

__all__ = [
    "REVIEW_COLUMNS",
    "RunTables",
    "check_review_out",
    "load_run",
    "review_table",
    "reviewed_rows",
]


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






def reviewed_rows(segments: pd.DataFrame, spans: Sequence[tuple[str, int, int]],
                  full_docs: Sequence[str] = ()) -> np.ndarray:
    """Positions of the segments a review sheet decided on (``spans``), plus every segment of
    ``full_docs`` (documents fully coded in a gold CSV or ``.qdpx`` given alongside)."""
    wanted = {(str(d), int(a), int(b)) for d, a, b in spans}
    full = {str(d) for d in full_docs}
    mask = [(str(d), int(a), int(b)) in wanted or str(d) in full
            for d, a, b in zip(segments["doc_id"], segments["start"], segments["end"], strict=True)]
    return np.flatnonzero(np.asarray(mask, dtype=bool))


# ----------------------------------------------------------------------------- where a sheet may go


def check_review_out(out: str | Path, *, csv_copy: bool = False, inputs: Sequence[str | Path] = (),
                     run_dir: str | Path | None = None, overwrite: bool = False) -> Path:
    """Check where ``psythemes review`` / ``psythemes next`` will write a sheet, before any work.

    A review sheet holds hours of a researcher's decisions, so a new one never silently takes its
    place.  Refused, with one line that says what to do instead:

    * a path that is not ``.xlsx``/``.csv``, that is a folder, or whose folder cannot be made (a
      file in the way, no permission: :func:`psythemes.staging.check_out_dir`'s checks);
    * one of ``inputs`` (the sheets read with ``--gold``) or a file of the run folder
      ``run_dir`` that psythemes wrote (its ``manifest.json`` lists it), even with ``overwrite``;
    * unless ``overwrite``: an existing sheet with filled decision cells, and an existing file
      that is not a review sheet at all.  An existing sheet without decisions (a sheet written
      earlier and not yet filled in) is replaced.

    ``csv_copy``: the ``.csv`` copy written beside an ``.xlsx`` is checked the same way.
    Returns ``out`` as a Path.
    """
    import os

    from .staging import check_out_dir, owned_outputs
    from .tables import count_decisions

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InputError(f"review sheet must be .xlsx or .csv, not {out.suffix or 'no suffix'!r}", path=out)
    if out.is_dir():
        raise InputError("output path is a folder; give a file name such as review.xlsx", path=out)
    check_out_dir(out.parent, stage_command=True)  # a file in the way, no permission: before any work
    targets = [out, out.with_suffix(".csv")] if csv_copy and suffix == ".xlsx" else [out]
    protected = [(Path(p), "read with --gold") for p in inputs]
    if run_dir is not None:
        owned, _ = owned_outputs(Path(run_dir))
        protected += [(Path(run_dir) / name, "a file of the run folder") for name in owned]
    for target in targets:
        if not target.exists():
            continue
        for source, what in protected:
            # samefile: the same sheet named another way (./x.xlsx, a link) is the same sheet
            if source.exists() and os.path.samefile(target, source):
                raise InputError(f"is {what}; write the new sheet to another file", path=target)
        if overwrite:
            continue
        try:
            n = count_decisions(target)
        except InputError as err:
            raise InputError(f"exists and cannot be read as a review sheet ({err.message}); give another --out, "
                             "or --overwrite to replace it", path=target) from None
        if n:
            raise InputError(f"holds {n} decision(s) that a new sheet would wipe out; give another --out, or "
                             "--overwrite to replace it", path=target)
    return out


# Moved to the file-level modules; still importable from here.
__getattr__ = forward(__name__, {
    "ACCEPT": "tables",
    "REJECT": "tables",
    "DEFAULT_REVIEWER": "tables",
    "ReviewDecisions": "tables",
    "write_review_sheet": "tables",
    "read_review": "tables",
    "review_run": "jobs",
})
