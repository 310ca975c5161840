"""The stage tables on disk: one reader and one writer per table, each with one policy.

A file means the same whichever command wrote it and whichever command reads it:

=====================  ==========================  ==========================================
table                  reader                      writer
=====================  ==========================  ==========================================
``segments.csv``       :func:`read_segments`       :func:`write_segments`
``codes.csv``          :func:`read_codes`          :func:`write_codes`
gold codes             :func:`read_gold`           (the researcher's; :func:`clean_gold` for
                                                   gold already in memory)
metadata               :func:`read_metadata`       (the researcher's)
evaluation tables      --                          :func:`write_evaluation`
a run folder           :func:`read_run`            (``extract``)
themes                 :func:`parse_quotes`, ...
=====================  ==========================  ==========================================

Stage modules work in memory and never read or write these files themselves; the file-level
jobs (:mod:`psythemes.jobs`, :mod:`psythemes.pipeline`) and the CLI call this module.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .errors import InputError, PsythemesWarning
from .schema import CODE_COLUMNS, GOLD_COLUMNS, SEGMENT_COLUMNS, speaker_key

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from .codebook import Codebook
    from .evaluate import Evaluation

__all__ = [
    "CODES_FILE_COLUMNS",
    "DEFAULT_CODER",
    "gold_docs_by_file_name",
    "RunTables",
    "clean_codes",
    "clean_gold",
    "is_segment_table",
    "segment_table_path",
    "read_codes",
    "read_gold",
    "read_metadata",
    "read_run",
    "read_segments",
    "write_codes",
    "write_evaluation",
    "write_segments",
    "parse_quotes",
    "quote_texts",
    "theme_quotes",
    "quotes_from_cells",
    "read_theme_quotes",
    "write_theme_quotes",
    "write_themes",
    "write_theme_figures",
]

#: Columns of ``codes.csv`` whichever route wrote it: ``evidence`` (the example or prototype a
#: zero-shot mapper matched) is empty where the mapper gives none.
CODES_FILE_COLUMNS: list[str] = [*CODE_COLUMNS, "evidence"]
#: Coder name used when the gold table has no ``coder`` column.
DEFAULT_CODER = "gold"
#: ``attrs`` key of gold read from review sheets: the (doc_id, start, end) spans with a decision.
REVIEWED_SPANS = "reviewed_spans"
#: ``attrs`` key: documents whose gold came from full coding (CSV, .qdpx) alongside review sheets.
FULL_DOCS = "full_docs"
#: ``attrs`` key of gold read from review sheets: ``{coder: {(doc_id, start, end), ...}}``, the
#: segments each reviewer decided on; the others are unknown for that reviewer, not "no code".
#: A coder who also has rows from a fully coded file is left out (taken as coding whole documents).
REVIEWED_BY = "reviewed_by"
# ``attrs`` key of one review sheet's gold: the (doc_id, start, end, coder) it decided on
_DECIDED_BY = "decided_by"
#: The columns :func:`read_segments` requires; a CSV with them is a segments table
#: (:func:`is_segment_table`), whatever other columns it has.
SEGMENT_REQUIRED: tuple[str, ...] = ("doc_id", "segment_id", "start", "end", "text")

_DOC, _START, _END, _CODE, _CODER = GOLD_COLUMNS
_SEG_ID = CODE_COLUMNS[1]
_SCORE, _METHOD = CODE_COLUMNS[5], CODE_COLUMNS[6]
_EVIDENCE = CODES_FILE_COLUMNS[-1]
_TEXT = SEGMENT_COLUMNS[6]


def _warn_count(count: int, message: str) -> None:
    if count:
        warnings.warn(f"{count} {message}", PsythemesWarning, stacklevel=3)


# ----------------------------------------------------------------------------- segments


def is_segment_table(path: str | Path) -> bool:
    """Whether ``path`` is a CSV whose header has the columns of a segments table
    (:data:`SEGMENT_REQUIRED`; other columns such as ``speaker`` or ``kind`` are allowed), so
    that it is read with :func:`read_segments`, never as transcripts."""
    import csv

    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    names = {h.strip() for h in header}
    return all(c in names for c in SEGMENT_REQUIRED)


def segment_table_path(path: str | Path) -> Path | None:
    """The segment table ``path`` names: itself when it is one (:func:`is_segment_table`), its
    ``segments.csv`` when it is an output folder of psythemes (the table beside its
    ``transcripts.jsonl``, and either extract's ``manifest.json`` or no transcript file such as a
    ``.txt``: a folder of interviews that ``segment`` also wrote into is read as transcripts),
    else None."""
    from .io import FORMAT_BY_SUFFIX

    path = Path(path)
    if path.is_dir():
        if not (path / "transcripts.jsonl").is_file():
            return None
        tables = {"csv", "tsv", "jsonl", "qdpx"}  # what psythemes itself writes there (codes.csv, project.qdpx)
        if not (path / "manifest.json").is_file() and any(
                f.is_file() and FORMAT_BY_SUFFIX.get(f.suffix.lower(), "csv") not in tables
                and f.suffix.lower() in FORMAT_BY_SUFFIX for f in path.iterdir()):
            return None
        path = path / "segments.csv"
    return path if is_segment_table(path) else None


def read_segments(path: str | Path) -> pd.DataFrame:
    """Read a segment table (``segments.csv`` as psythemes writes it).

    ``path`` may also be a folder that holds one (see :func:`segment_table_path`); a warning
    names the file read.

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

    path = Path(path)
    if path.is_dir():
        table = segment_table_path(path)
        if table is None:
            raise InputError("a folder without a segments.csv: give the segments.csv that psythemes segment or "
                             "extract wrote", path=path)
        warnings.warn(f"{path} is a folder: reading its segment table {table}", PsythemesWarning, stacklevel=2)
        path = table
    if not path.is_file():
        raise InputError("segments file not found", path=path)
    from .validate import check_rectangular, check_segment_table

    text_columns = ["doc_id", "segment_id", "speaker", "role", "text"]
    check_rectangular(path, what="segments table")
    try:
        frame = pd.read_csv(path, dtype={c: str for c in text_columns}, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        raise InputError(f"cannot read segments table: {err}", path=path) from None
    required = list(SEGMENT_REQUIRED)
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
    frame.attrs["segments_path"] = str(path)  # its transcripts.jsonl holds the texts that quotes are found in
    return frame


def gold_texts(segments: pd.DataFrame) -> Callable[[], dict[str, str] | None]:
    """The transcript texts that gold quotes are found in (see :func:`read_gold`'s ``texts``): those of
    the ``transcripts.jsonl`` beside the segments file, else the segments' own texts, each placed at
    its offsets (the words between segments, such as speaker labels, are then blank)."""
    def load() -> dict[str, str] | None:
        from .validate import texts_near

        return texts_near(segments.attrs.get("segments_path")) or texts_from_segments(segments)

    return load


def texts_from_segments(segments: pd.DataFrame) -> dict[str, str]:
    """``doc_id -> text`` rebuilt from a segments table: each segment's text at its offsets, spaces between."""
    texts: dict[str, str] = {}
    for doc, part in segments.groupby("doc_id", sort=False):
        chars = [" "] * int(part["end"].max())
        for start, text in zip(part["start"].astype(int), part["text"].astype(str), strict=True):
            chars[start:start + len(text)] = text
        texts[str(doc)] = "".join(chars)
    return texts


#: The delimiters a CSV may use: Excel in many locales saves "CSV" with ``;``.
CSV_DELIMITERS = ",;\t"


def csv_delimiter(text: str, path: str | Path | None = None) -> str:
    """The delimiter of a CSV's text, the one rule of every table reader (codebooks, gold and machine
    codes, metadata, review sheets): tab for a ``.tsv``, else the most frequent of ``,`` ``;`` and tab
    in the header line (``,`` on a tie; :class:`csv.Sniffer` misreads quoted text)."""
    if path is not None and Path(path).suffix.lower() == ".tsv":
        return "\t"
    header = text.split("\n", 1)[0]
    return max(CSV_DELIMITERS, key=header.count)


#: Suffixes of the Excel workbooks that gold and metadata tables may be (their first sheet is read).
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm")


def header_key(name: Any) -> str:
    """A column header as psythemes compares it with the names it knows: lower case, ``_`` as a
    space, runs of white space as one (``File_Name `` -> ``file name``)."""
    return " ".join(str(name).strip().lower().replace("_", " ").split())


def xlsx_rows(path: str | Path) -> list[list[str]]:
    """The first sheet of an Excel workbook, every cell as text (``""`` when empty)."""
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as err:
        raise InputError(f"not a readable Excel workbook ({type(err).__name__})", path=path) from None
    try:
        return [["" if cell is None else str(cell) for cell in row]
                for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def write_segments(path: str | Path, segments: pd.DataFrame) -> Path:
    """Write a segments table (kept or dropped segments) atomically, as :func:`read_segments` reads it.

    Columns: :data:`~psythemes.schema.SEGMENT_COLUMNS` first, then any others the segmenter
    added (``turn_index``, ``kind``, ...) in their order.
    """
    from .outputs import write_table

    first = [c for c in SEGMENT_COLUMNS if c in segments.columns]
    return write_table(path, segments[first + [c for c in segments.columns if c not in first]])


# ----------------------------------------------------------------------------- metadata


def read_metadata(path: str | Path) -> pd.DataFrame:
    """Read a metadata sidecar (CSV/TSV, or the first sheet of an ``.xlsx``; ``doc_id`` plus any
    participant columns).

    The one reader of metadata, whether it joins transcripts (``--metadata`` of ``segment``
    and ``extract``) or is the per-document table of ``themes``' prevalence tables.

    Returns
    -------
    DataFrame
        ``doc_id`` as text; other columns with inferred types; empty cells as missing.

    Raises
    ------
    InputError
        Missing file, ragged rows, no ``doc_id`` column, duplicate or empty doc ids.
    """
    import io as _stringio

    import pandas as pd

    from .io import _read_bytes, decode_table_bytes
    from .validate import check_rectangular

    path = Path(path)
    raw = _read_bytes(path)
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        text, sep = _sheet_as_csv(path), ","
    else:
        if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # a zip (.ods, .numbers) or an old .xls
            raise InputError("metadata must be a CSV/TSV table or an Excel workbook (.xlsx); this file is another "
                             "kind of spreadsheet or archive: save the sheet as .xlsx or CSV", path=path)
        text = decode_table_bytes(raw, path)
        sep = csv_delimiter(text, path)
        check_rectangular(path, what="metadata", delimiter=sep, text=text)  # a shifted column is silent otherwise
    try:
        columns = pd.read_csv(_stringio.StringIO(text), sep=sep, nrows=0).columns
        # document ids stay text ("007"); the other columns get their types inferred (age 47 a number)
        frame = pd.read_csv(_stringio.StringIO(text), sep=sep, dtype={c: str for c in columns if _is_doc_column(c)})
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise InputError(f"malformed metadata table: {err}", path=path) from None
    return check_metadata(frame, path)


def _sheet_as_csv(path: Path) -> str:
    """The first sheet of a workbook (:func:`xlsx_rows`, as codebooks and gold read it) as CSV text,
    empty rows and empty columns left out, so that a table kept in Excel is read exactly as the
    same table saved as CSV (numbers in it become numbers again)."""
    import csv
    import io as _stringio

    rows = [r for r in xlsx_rows(path) if any(c.strip() for c in r)]
    if not rows:
        raise InputError("the workbook's first sheet is empty", path=path)
    used = [j for j in range(max(len(r) for r in rows)) if any(j < len(r) and r[j].strip() for r in rows)]
    buffer = _stringio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([row[j] if j < len(row) else "" for j in used])
    return buffer.getvalue()


#: Header names (case-insensitive) taken for the document column of a metadata table without ``doc_id``.
METADATA_DOC_COLUMNS = ("doc_id", "doc id", "document", "document name", "doc", "file", "filename", "file name",
                        "transcript", "transcript id", "transcript_id", "source")


def _is_doc_column(name: Any) -> bool:
    return header_key(name) in {header_key(c) for c in METADATA_DOC_COLUMNS}


#: Metadata columns psythemes reads by name, and other names a sidecar may give them (case-insensitive).
METADATA_KNOWN_COLUMNS: dict[str, tuple[str, ...]] = {
    "participant": ("participant", "participant id", "participant_id", "pseudonym"),
    "role": ("role", "participant role", "speaker role"),
    "wave": ("wave", "interview wave", "time point", "timepoint"),
    "speaker": ("speaker", "speaker label", "speaker name"),
}


def _known_metadata_columns(frame: pd.DataFrame, path: str | Path | None) -> pd.DataFrame:
    """``Role``, ``Participant ID``, ``Time point`` renamed to the names psythemes reads (``role`` ...)."""
    renames: dict[Any, str] = {}
    for key, names in METADATA_KNOWN_COLUMNS.items():
        if key in frame.columns:
            continue
        options = {header_key(n) for n in names}
        found = next((c for c in frame.columns if header_key(c) in options and c not in renames), None)
        if found is not None:
            renames[found] = key
    guessed = [f"{old!r} as {new!r}" for old, new in renames.items() if str(old).strip().lower() != new]
    if guessed:
        warnings.warn(f"{Path(path).name + ': ' if path else ''}metadata column(s) read as psythemes names them: "
                      f"{', '.join(guessed)}", PsythemesWarning, stacklevel=4)
    return frame.rename(columns=renames) if renames else frame


def check_metadata(frame: pd.DataFrame, path: str | Path | None = None) -> pd.DataFrame:
    """A metadata table (from a file or a DataFrame) with text ``doc_id`` values, unique and
    not empty; whole numbers stay whole where some cells are empty.

    Without a ``doc_id`` column, the first column named like one of :data:`METADATA_DOC_COLUMNS`
    (``Document``, ``File name``, ``Transcript``) is taken for it, with a warning.
    """
    if "doc_id" not in frame.columns:
        alias = next((c for c in frame.columns if _is_doc_column(c)), None)
        if alias is None:
            raise InputError(f"metadata has no 'doc_id' column (columns: {', '.join(map(str, frame.columns))}; a "
                             f"document column may also be named {', '.join(METADATA_DOC_COLUMNS[1:])})",
                             path=path)
        warnings.warn(f"{Path(path).name + ': ' if path else ''}metadata column {alias!r} taken as doc_id",
                      PsythemesWarning, stacklevel=3)
        frame = frame.rename(columns={alias: "doc_id"})
    frame = _known_metadata_columns(frame, path)
    # nullable dtypes keep whole numbers whole (age 47, not 47.0) when some cells are empty
    frame = frame.convert_dtypes()
    if frame["doc_id"].isna().any():
        raise InputError("metadata has an empty doc_id", path=path,
                         line=int(frame.index[frame["doc_id"].isna()][0]) + 2)
    frame["doc_id"] = frame["doc_id"].astype(str).str.strip()
    if "speaker" in frame.columns:
        return _fold_speaker_rows(frame, path)
    dup = frame["doc_id"][frame["doc_id"].duplicated()]
    if len(dup):
        raise InputError(f"metadata lists doc_id {dup.iloc[0]!r} twice", path=path,
                         line=int(dup.index[0]) + 2)
    return frame


def _fold_speaker_rows(frame: pd.DataFrame, path: str | Path | None) -> pd.DataFrame:
    """A sidecar with a ``speaker`` column: rows that name a speaker describe that speaker of the
    document (each participant of a focus group); the others the document.  Returns one row per
    document, its speakers' rows in a ``speakers`` column (``{label: {column: value}}``), as
    :attr:`psythemes.schema.Transcript.metadata` keeps them."""
    import pandas as pd

    speaker = frame["speaker"].astype("string").str.strip()
    is_speaker = speaker.notna() & (speaker != "")
    docs = frame[~is_speaker].drop(columns="speaker")
    dup = docs["doc_id"][docs["doc_id"].duplicated()]
    if len(dup):
        raise InputError(f"metadata lists doc_id {dup.iloc[0]!r} twice without a speaker", path=path,
                         line=int(dup.index[0]) + 2)
    speakers: dict[str, dict[str, dict[str, Any]]] = {}
    for index, rec in frame[is_speaker].drop(columns="speaker").iterrows():
        label = str(speaker[index])
        of_doc = speakers.setdefault(rec["doc_id"], {})
        # labels are matched ignoring case and spacing, so two rows that differ only so are one speaker
        # (the label is not named: it may be a participant's name)
        if any(speaker_key(k) == speaker_key(label) for k in of_doc):
            raise InputError(f"metadata lists a speaker of doc_id {rec['doc_id']!r} twice (labels differing only in "
                             "case or spacing are one speaker)", path=path, line=int(index) + 2)
        of_doc[label] = {str(k): (v.item() if hasattr(v, "item") else v) for k, v in rec.items()
                         if k != "doc_id" and not (pd.api.types.is_scalar(v) and pd.isna(v))}
    missing = [d for d in speakers if d not in set(docs["doc_id"])]
    # a document whose one row names its one participant (a sidecar with a column of the
    # participant's label per interview) is described by that row too: wave, date and role stay
    # the document's, as without the speaker column
    added = pd.DataFrame([{"doc_id": d, **(next(iter(speakers[d].values())) if len(speakers[d]) == 1 else {})}
                          for d in missing], columns=docs.columns.drop("speaker", errors="ignore"), dtype=object)
    # whole numbers stay whole (wave 1, not 1.0), as check_metadata keeps them
    docs = pd.concat([docs, added], ignore_index=True).convert_dtypes() if missing else docs
    docs = docs.reset_index(drop=True)
    docs["speakers"] = [speakers.get(d) for d in docs["doc_id"]]
    return docs


def participants(metadata: pd.DataFrame) -> pd.DataFrame:
    """One row per participant: each speaker row of a document (see :func:`check_metadata`), with
    its document's cells where it has none of its own, and each document without speaker rows.

    A speaker row without a ``participant`` cell is the participant ``doc_id:speaker``.  This is
    what a Table 1 counts: the members of a focus group each once, not the group's one row.
    """
    import pandas as pd

    if "speakers" not in metadata.columns:
        return metadata
    rows = []
    for rec in metadata.to_dict("records"):
        speakers = rec.pop("speakers", None)
        if not isinstance(speakers, dict) or not speakers:
            rows.append(rec)
            continue
        from .io import role_of

        resolved = rec.get("speaker_roles") if isinstance(rec.get("speaker_roles"), dict) else {}
        for label, cells in speakers.items():
            doc_cells = {k: v for k, v in rec.items() if k != "participant"}
            row = {**doc_cells, "participant": f"{rec['doc_id']}:{label}", "speaker": label, **cells}
            # the role the speaker's turns got: a moderator's row without a role cell is the interviewer's side
            own = str(cells.get("role") or "").strip()
            role = resolved.get(label) or own or ("interviewer" if role_of(label) == "interviewer" else None)
            if role:
                row["role"] = role
            rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- shared table checks


def _read_csv(path: str | Path, required: Sequence[str], what: str) -> pd.DataFrame:
    import io as _stringio

    import pandas as pd

    from .validate import check_rectangular

    path = Path(path)
    if path.is_dir():
        raise InputError(f"is a folder; give the {what} file (a CSV) itself", path=path)
    if not path.is_file():
        raise InputError(f"{what} file not found", path=path)
    from .io import _read_bytes, decode_table_bytes

    raw = _read_bytes(path)
    if not raw.removeprefix(b"\xef\xbb\xbf").strip():
        raise InputError(f"{what} file is empty", path=path)
    # read once, decoded as transcripts are (a cp1252 export from Excel is named, not an error): the
    # delimiter, the shape check and pandas all work on this text
    text = decode_table_bytes(raw, path)
    sep = csv_delimiter(text, path)
    check_rectangular(path, what=what, delimiter=sep, text=text)
    try:
        frame = pd.read_csv(_stringio.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{what} file is empty", path=path) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {what} as CSV: {err}", path=path) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{what} table lacks column(s) {', '.join(missing)} "
                         f"(has: {', '.join(frame.columns)})", path=path)
    frame.attrs["path"] = str(path)
    return frame


def row_lines(frame: pd.DataFrame) -> np.ndarray:
    """CSV line of each row (header is line 1) where the frame came from a file, else row number."""
    import numpy as np
    import pandas as pd

    offset = 2 if "path" in frame.attrs else 0
    if pd.api.types.is_integer_dtype(frame.index):
        return frame.index.to_numpy() + offset
    return np.arange(len(frame)) + offset


def row_error(frame: pd.DataFrame, row: int, message: str) -> InputError:
    """An :class:`InputError` about row ``row`` (position) of ``frame``: its file and line where it
    came from a file, else its row number (a DataFrame given in memory)."""
    line = int(row_lines(frame)[row])
    if "path" in frame.attrs:
        return InputError(message, path=frame.attrs["path"], line=line)
    return InputError(f"{message} (row {line + 1})")


def int_column(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """``frame[column]`` as whole numbers; the first other value is an error naming its line."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | (values % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise row_error(frame, row, f"{what}: {column} must be a whole number, got {frame[column].iloc[row]!r}")
    return values.astype(np.int64)


def require_columns(frame: pd.DataFrame, required: Sequence[str], what: str) -> None:
    """``frame`` is a DataFrame with the ``required`` columns."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{what} must be a table (pandas DataFrame)")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{what} table lacks column(s) {', '.join(missing)}", path=frame.attrs.get("path"))


def _missing(value: Any) -> bool:
    from .agreement import _is_missing

    return bool(_is_missing(value))


def _code_names(codes: Sequence[str] | Codebook) -> tuple[list[str], list[str], dict[str, str]]:
    """The names labels may take, the headings a label is told apart from, and the aliases: a
    codebook's codable codes, its headings (a label naming a heading is an error that says so) and
    its codes' aliases; a list as it is."""
    from .codebook import Codebook

    if isinstance(codes, Codebook):
        return codes.codable_names, codes.heading_names, codes.aliases
    return list(codes), [], {}


def _check_codes(frame: pd.DataFrame, codes: Sequence[str] | Codebook | None, what: str) -> None:
    """Give every code of ``frame`` the spelling of the code list (in place).

    A label finds its code by name, case-insensitively, by slug (``DIPLOMACY`` = ``diplomacy``,
    ``rust_performs_well`` = ``Rust Performs Well``) or by its path as QDA programs export it
    (``Context\\Family`` = ``Context > Family``, ``Mechanisms\\Alliance`` = ``Alliance``); one warning
    names the labels matched by case or punctuation.  A label matching no code is an error naming
    its line and the closest code.
    """
    if codes is None:
        return
    from .codebook import resolve_code_names, warn_aliased, warn_respelt

    used = frame[_CODE].astype(str)
    names, headings, aliases = _code_names(codes)
    singular = what[:-1] if what.endswith("s") else what  # "gold codes" -> "gold code"
    mapping: dict[str, str] = {}
    failed: dict[str, tuple[int, str]] = {}  # label -> (first row, why): every one is named at once
    for i, label in enumerate(used):
        if label == "" or label in mapping or label in failed:
            continue
        try:
            mapping.update(resolve_code_names([label], names, what=singular, headings=headings, aliases=aliases))
        except InputError as err:
            failed[label] = (i, err.message)
    if len(failed) == 1:
        (row, message), = failed.values()
        raise row_error(frame, row, message)
    if failed:
        lines, in_file = row_lines(frame), "path" in frame.attrs
        shown = "; ".join(f"{label!r} ({'line' if in_file else 'row'} {int(lines[row]) + (0 if in_file else 1)})"
                          for label, (row, _) in list(failed.items())[:10])
        first_row, first_message = next(iter(failed.values()))
        raise InputError(f"{len(failed)} {singular} labels match no code of the "
                         f"codebook: {shown}{'; ...' if len(failed) > 10 else ''}; the first: {first_message}",
                         path=frame.attrs.get("path"))
    spelt = warn_aliased(mapping, names, what.split()[0], source=frame.attrs.get("path"), stacklevel=5)
    warn_respelt(spelt, what.split()[0], source=frame.attrs.get("path"), stacklevel=5)
    frame[_CODE] = used.map(lambda v: mapping.get(v, v))


# ----------------------------------------------------------------------------- gold codes


def clean_gold(gold: pd.DataFrame, codes: Sequence[str] | Codebook | None = None,
               text_lengths: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Check gold spans already in memory (a DataFrame, a project's codings) as :func:`read_gold` does.

    ``doc_id, start, end, code`` are required; ``coder`` defaults to :data:`DEFAULT_CODER`;
    ids and codes are stripped and must not be empty; offsets are whole numbers with
    ``0 <= start < end``; codes take the spelling of ``codes`` (an unknown one is an error);
    duplicate rows are removed (counted).  With ``text_lengths`` (``doc_id -> len(text)``):
    spans on a document it does not have are counted with a warning and kept (they code no
    segment; :func:`psythemes.evaluate.evaluate` reports them), and spans that **end beyond
    their document's text are dropped**, counted in a warning that names the first; this is
    the one policy for spans past the end, whichever command reads the gold.
    """
    import numpy as np

    what = "gold codes"
    require_columns(gold, [_DOC, _START, _END, _CODE], what)
    frame = gold.copy()
    frame.attrs = dict(gold.attrs)
    if frame.empty:
        raise InputError("gold table has no rows: nothing to evaluate against", path=frame.attrs.get("path"))
    if _CODER not in frame.columns:
        frame[_CODER] = DEFAULT_CODER
    for col in (_DOC, _CODE, _CODER):
        frame[col] = frame[col].map(lambda v: "" if _missing(v) else str(v).strip())
    for col in (_DOC, _CODE, _CODER):
        empty = frame[col] == ""
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0])
            raise row_error(frame, row, f"{what}: empty {col}")
    frame[_START] = int_column(frame, _START, what)
    frame[_END] = int_column(frame, _END, what)
    bad = (frame[_START] < 0) | (frame[_END] <= frame[_START])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise row_error(frame, row, f"{what}: span [{frame[_START].iloc[row]}, {frame[_END].iloc[row]}) "
                                    "is empty or negative")
    _check_codes(frame, codes, what)
    keep = GOLD_COLUMNS + ([_TEXT] if _TEXT in frame.columns else [])
    frame = _one_spelling_per_coder(frame[keep])
    dup = frame.duplicated(subset=GOLD_COLUMNS)
    _warn_count(int(dup.sum()), "duplicate gold row(s) removed")
    frame = frame[~dup]
    if text_lengths is not None:
        frame = gold_docs_by_file_name(frame, text_lengths)
        unknown_doc = ~frame[_DOC].isin(set(text_lengths))
        names = sorted(set(frame.loc[unknown_doc, _DOC]))
        _warn_count(int(unknown_doc.sum()), "gold span(s) name a document that the transcripts do not have: "
                                            + ", ".join(names[:5]) + (", ..." if len(names) > 5 else ""))
        limit = frame[_DOC].map(text_lengths)
        outside = ~unknown_doc & (frame[_END] > limit)
        if outside.any():
            first = frame[outside].iloc[0]
            _warn_count(int(outside.sum()), "gold span(s) end beyond their document's text and were dropped, e.g. "
                                            f"{first[_DOC]} [{first[_START]}, {first[_END]}) beyond its "
                                            f"{int(text_lengths[first[_DOC]])} characters (made on another "
                                            "version of the text?)")
        frame = frame[~outside]
    return frame.reset_index(drop=True)


def gold_docs_by_file_name(gold: pd.DataFrame, doc_ids: Iterable[str]) -> pd.DataFrame:
    """``gold`` with a document written as a file name (``P01.txt``, as exports and spreadsheets
    name them) renamed to the document whose id is its stem (``P01``), as tables of quotes and
    metadata match them; one warning counts the rows.  Names that are an id already stay."""
    known = set(map(str, doc_ids))
    names = gold[_DOC].astype(str)
    stems = {n: Path(n).stem for n in set(names) if n not in known and "." in n and Path(n).stem in known}
    if not stems:
        return gold
    out = gold.assign(**{_DOC: names.map(lambda n: stems.get(n, n))})
    out.attrs = dict(gold.attrs)
    first = sorted(stems)[0]
    _warn_count(int(names.isin(set(stems)).sum()), f"gold row(s) name their document by its file name and were "
                                                   f"matched by its stem (e.g. {first!r} -> {stems[first]!r})")
    return out


def _coder_key(name: Any) -> str:
    """A coder's name as :func:`_one_spelling_per_coder` compares them (case and spaces ignored)."""
    return " ".join(str(name).split()).casefold()


def _one_spelling_per_coder(frame: pd.DataFrame) -> pd.DataFrame:
    """Coder names that differ only in case or spaces (``ana``, ``Ana``, ``Ana ``) are one coder,
    under the spelling used most (the first of equals); one warning names them.  As two coders,
    each would seem to have coded only the documents of one spelling."""
    names = frame[_CODER]
    counts = names.value_counts(sort=False)
    spelling: dict[str, str] = {}
    for name in counts.index:
        key = _coder_key(name)
        if key not in spelling or counts[name] > counts[spelling[key]]:
            spelling[key] = str(name)
    renamed = {str(n): spelling[_coder_key(n)] for n in counts.index}
    renamed = {old: new for old, new in renamed.items() if old != new}
    if not renamed:
        return frame
    warnings.warn("coder names that differ only in case or spaces are one coder: "
                  + ", ".join(f"{old!r} -> {new!r}" for old, new in sorted(renamed.items())),
                  PsythemesWarning, stacklevel=4)
    out = frame.assign(**{_CODER: names.map(lambda n: renamed.get(n, n))})
    out.attrs = dict(frame.attrs)
    if out.attrs.get(REVIEWED_BY):
        merged: dict[str, set[tuple[str, int, int]]] = {}
        for coder, spans in out.attrs[REVIEWED_BY].items():
            merged.setdefault(renamed.get(coder, coder), set()).update(spans)
        out.attrs[REVIEWED_BY] = merged
    return out


#: Transcript texts for gold given as quotes: a mapping ``doc_id -> text``, or a function that
#: returns one (None: none at hand), called only when a gold table has quotes and no offsets.
GoldTexts = Mapping[str, str] | Callable[[], Mapping[str, str] | None] | None


def read_gold(path: str | Path | Sequence[str | Path], *, codes: Sequence[str] | Codebook | None = None,
              text_lengths: Mapping[str, int] | None = None, coders: Sequence[str] | None = None,
              qdpx_positions: str = "auto", texts: GoldTexts = None) -> pd.DataFrame:
    """Read and check gold codes (:data:`~psythemes.schema.GOLD_COLUMNS`, optional ``text``).

    The one reader of gold, for ``evaluate``, ``train``, ``map --method few-shot``, ``extract
    --gold`` and the review loop; the checks are :func:`clean_gold`'s.

    Parameters
    ----------
    path : path or list of paths
        A CSV with ``doc_id, start, end, code`` and optionally ``coder`` (default: one coder,
        ``"gold"``) and ``text``; a REFI-QDA project (``.qdpx``/``.qde``), whose machine
        codings (coder ``psythemes``) are left out unless ``coders`` names them; a filled-in
        review sheet (``.xlsx``, or a CSV with a ``decision`` column, see
        :mod:`psythemes.review`); a table of quotes (CSV or ``.xlsx``: document, code and
        coded text, no offsets, as MAXQDA, ATLAS.ti and spreadsheets give them), found in
        ``texts`` by :func:`psythemes.quotes.quotes_to_spans`.  Several paths are read and
        joined (any mix).
    codes : sequence of str, optional
        The code list; a code outside it is an :class:`InputError` naming the line.  A
        project's codes are checked against it too.
    text_lengths : dict, optional
        ``doc_id -> len(text)``: spans ending beyond their document's text are **dropped**
        (counted in a warning that names the first); spans on documents it does not have are
        counted in a warning and kept.
    coders : sequence of str, optional
        Keep only these coders (for a project: instead of "everyone but psythemes").
    qdpx_positions : {"auto", "utf16", "codepoints"}
        How a ``.qdpx``/``.qde`` counts selection positions (see :func:`psythemes.qdpx.read_qdpx`).
    texts : mapping or callable, optional
        ``doc_id -> text`` of the transcripts (or a function returning it), needed only for a
        table of quotes.

    Returns
    -------
    DataFrame
        Gold spans, duplicates removed (with a counted warning).

    Raises
    ------
    InputError
        Missing file or columns, no rows, empty ids/codes, bad offsets, unknown codes.
    """
    import pandas as pd

    if isinstance(path, (list, tuple)):
        if not path:
            raise InputError("no gold file given")
        if len(path) > 1:
            parts = [read_gold(p, codes=codes, text_lengths=text_lengths, coders=coders, qdpx_positions=qdpx_positions,
                               texts=texts) for p in path]
            parts = _later_decisions_win(_coders_named_by_file(parts, path))
            joined = pd.concat([p[GOLD_COLUMNS] for p in parts], ignore_index=True)
            dup = joined.duplicated(subset=GOLD_COLUMNS)
            _warn_count(int(dup.sum()), "gold row(s) given in more than one gold file removed")
            joined = joined[~dup].reset_index(drop=True)
            if any(REVIEWED_SPANS in p.attrs for p in parts):
                joined.attrs[REVIEWED_SPANS] = [s for p in parts for s in p.attrs.get(REVIEWED_SPANS, [])]
                joined.attrs[FULL_DOCS] = sorted({d for p in parts if REVIEWED_SPANS not in p.attrs
                                                  for d in p[_DOC].astype(str)})
                # "anna" (a review sheet) and "Anna" (a span CSV) are one coder (_one_spelling_per_coder)
                full_coders = {_coder_key(c) for p in parts if REVIEWED_SPANS not in p.attrs for c in p[_CODER]}
                reviewed_by: dict[str, set[tuple[str, int, int]]] = {}
                for part in parts:
                    for coder, spans in part.attrs.get(REVIEWED_BY, {}).items():
                        if _coder_key(coder) not in full_coders:
                            reviewed_by.setdefault(coder, set()).update(spans)
                joined.attrs[REVIEWED_BY] = reviewed_by
            return joined
        path = path[0]
    # a list or tuple was taken apart above: one path is left (mypy keeps Sequence in the union)
    path = Path(cast("str | Path", path))
    suffix = path.suffix.lower()
    if suffix in (".qdpx", ".qde"):
        from .qdpx import gold_codings, read_qdpx

        frame = gold_codings(read_qdpx(path, positions=qdpx_positions), coders, path=path)
        if frame.empty:
            raise InputError("the project has no human codings to use as gold", path=path)
        frame.attrs["path"] = str(path)
        return clean_gold(frame, codes, text_lengths)
    if is_review_sheet(path):
        decided = read_review(path, codes=codes)
        if decided.reviewed.empty:
            raise InputError(f"the review sheet has no decisions yet (fill in the 'decision' column){_twin_hint(path)}",
                             path=path)
        frame = decided.gold
        frame.attrs["path"] = str(path)
        # a sheet labels the segments it has decisions for, not whole documents (see train_to_folder)
        frame.attrs[REVIEWED_SPANS] = [(str(d), int(a), int(b)) for d, a, b in
                                       zip(decided.reviewed["doc_id"], decided.reviewed["start"],
                                           decided.reviewed["end"], strict=True)]
        frame.attrs[_DECIDED_BY] = {(str(d), int(a), int(b), str(c)): frozenset(codes_)
                                    for d, a, b, c, codes_ in decided.reviewed.itertuples(index=False)}
        spans_of: dict[str, set[tuple[str, int, int]]] = {}
        for d, a, b, c in frame.attrs[_DECIDED_BY]:
            spans_of.setdefault(c, set()).add((d, a, b))
        frame.attrs[REVIEWED_BY] = spans_of
        if frame.empty:  # every suggestion rejected: known, but nothing to align
            return frame
    elif suffix in SPREADSHEET_SUFFIXES:  # a workbook that is not a review sheet: a table of quotes
        frame = _read_quote_table(_xlsx_table(path), path, texts)
    else:
        from .quotes import is_quote_table

        frame = _read_csv(path, [], "gold codes")
        if is_quote_table(frame):
            frame = _read_quote_table(frame, path, texts)
        else:
            missing = [c for c in (_DOC, _START, _END, _CODE) if c not in frame.columns]
            if missing:
                raise InputError(f"gold codes table lacks column(s) {', '.join(missing)} (has: "
                                 f"{', '.join(frame.columns)}); a table of coded passages without offsets needs "
                                 "a document, a code and a quote column instead", path=path)
    if coders is not None and _CODER in frame.columns:
        frame = frame[frame[_CODER].astype(str).str.strip().isin([str(c).strip() for c in coders])]
    return clean_gold(frame, codes, text_lengths)


def _twin_hint(path: Path) -> str:
    """Where the decisions are when the reviewer filled in the sheet's other copy (``review`` writes
    an ``.xlsx`` and a ``.csv`` beside it)."""
    for suffix in (".csv", ".xlsx"):
        twin = path.with_suffix(suffix)
        if twin == path or not twin.is_file():
            continue
        try:
            n = count_decisions(twin)
        except InputError:
            continue
        if n:
            return f"; its copy {twin.name} holds {n} decision(s): give that file"
    return ""


def _coders_named_by_file(parts: list[pd.DataFrame], paths: Sequence[str | Path]) -> list[pd.DataFrame]:
    """Several gold files that code the same documents: codes without a coder (no coder column, an
    empty cell) are the coder named after their file, so that two such files are two coders, not
    one called "gold" (beside the consensus column ``gold``, as ``coder:gold``).  One warning names
    them.  Files that share no document (one coder's codes, a file per transcript) stay one coder."""
    out, named = [], []
    taken = {str(c) for part in parts for c in part[_CODER]} - {DEFAULT_CODER}
    nameless_docs = [docs for docs in (set(part.loc[part[_CODER] == DEFAULT_CODER, _DOC].astype(str))
                                       for part in parts if REVIEWED_SPANS not in part.attrs) if docs]
    if len(nameless_docs) > 1 or not taken:
        if sum(map(len, nameless_docs)) == len(set().union(*nameless_docs)):
            # no document in two of them: one coder's codes split into files (one per transcript)
            return parts
    for part, path in zip(parts, paths, strict=True):
        nameless = (part[_CODER] == DEFAULT_CODER).to_numpy()
        if not nameless.any() or REVIEWED_SPANS in part.attrs:  # a review sheet names its reviewer
            out.append(part)
            continue
        name, n = Path(path).stem, 2
        while name in taken:
            name, n = f"{Path(path).stem}_{n}", n + 1
        taken.add(name)
        renamed = part.copy()
        renamed.attrs = dict(part.attrs)
        renamed.loc[nameless, _CODER] = name
        out.append(renamed)
        named.append(f"{Path(path).name} -> {name!r}")
    if named:
        warnings.warn(f"gold without a coder (no coder column, or empty cells) is named after its file: "
                      f"{'; '.join(named)}; give a coder column to name the coder", PsythemesWarning, stacklevel=4)
    return out


def _later_decisions_win(parts: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """Gold from several files, where a review sheet decides again on a segment that an earlier
    review sheet decided on for the same reviewer: the later sheet's decision stands (a re-review),
    and one warning counts the segments whose decision changed."""
    import numpy as np

    changed: list[tuple[str, int, int, str]] = []
    out = list(parts)
    for i, later in enumerate(parts):
        decided = later.attrs.get(_DECIDED_BY)
        if not decided:
            continue
        for j in range(i):
            earlier = out[j].attrs.get(_DECIDED_BY) or {}
            again = set(decided).intersection(earlier)
            if not again:
                continue
            changed += [key for key in again if earlier[key] != decided[key]]
            frame = out[j]
            keys = zip(frame[_DOC].astype(str), frame[_START].astype(int), frame[_END].astype(int),
                       frame[_CODER].astype(str), strict=True)
            # a boolean array, not a list: an empty list would select no columns of an empty frame
            kept = frame.loc[np.array([key not in again for key in keys], dtype=bool)].copy()
            kept.attrs = {**frame.attrs, _DECIDED_BY: {k: v for k, v in earlier.items() if k not in again}}
            out[j] = kept
    if changed:
        doc, start, end, coder = sorted(changed)[0]
        warnings.warn(f"{len(changed)} segment(s) were decided otherwise in a later review sheet by the same reviewer; "
                      f"the later sheet's decision is used (first: {doc} [{start}, {end}), reviewer {coder!r})",
                      PsythemesWarning, stacklevel=3)
    return out


def _read_quote_table(frame: pd.DataFrame, path: Path, texts: GoldTexts) -> pd.DataFrame:
    """Spans of a gold table of quotes, found in the transcripts' texts."""
    from .quotes import quotes_to_spans

    found = texts() if callable(texts) else texts
    if not found:
        raise InputError("this gold table gives quotes without start/end offsets; psythemes finds them in the "
                         "transcripts: give the transcripts (extract ... --gold), or a segments table with the "
                         "transcripts.jsonl that psythemes wrote beside it", path=path)
    spans = quotes_to_spans(frame, found, source=path)
    if _CODER in spans.columns:  # an empty "Created by" cell: the one default coder
        spans[_CODER] = spans[_CODER].where(spans[_CODER] != "", DEFAULT_CODER)
    spans.attrs["path"] = str(path)
    return spans


def _is_review_xlsx(path: Path) -> bool:
    """An ``.xlsx`` that ``psythemes review`` wrote (or one shaped like it): a decision column in
    its first rows.  Anything else is read as a gold table."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.is_file():
        return True  # read_review says it is missing
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, InvalidFileException, KeyError, OSError):
        return True  # read_review reports the error
    try:
        sheet = book[_SHEET] if _SHEET in book.sheetnames else book.worksheets[0]
        for row in sheet.iter_rows(max_row=20, values_only=True):
            if "decision" in {str(v).strip().lower() for v in row if v is not None}:
                return True
        return False
    finally:
        book.close()


def _xlsx_table(path: Path) -> pd.DataFrame:
    """The first sheet of a workbook as a table of strings, its first non-empty row the header."""
    import pandas as pd

    rows = [r for r in xlsx_rows(path) if any(v.strip() for v in r)]
    if not rows:
        raise InputError("gold workbook is empty", path=path)
    header = [h.strip() for h in rows[0]]
    frame = pd.DataFrame([r + [""] * (len(header) - len(r)) for r in rows[1:]], columns=header)
    frame.attrs["path"] = str(path)
    return frame


def is_review_sheet(path: str | Path) -> bool:
    """A review sheet that ``psythemes review`` wrote (``.xlsx``, or a CSV with a decision column)."""
    path = Path(path)
    return _is_review_xlsx(path) if path.suffix.lower() in SPREADSHEET_SUFFIXES else is_review_csv(path)


def is_review_csv(path: str | Path) -> bool:
    """A CSV review sheet (``psythemes review --csv``) rather than a gold table: it has a decision column."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".tsv", ".txt") or not path.is_file():
        return False
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline()
    return "decision" in [c.strip().strip('"') for c in header.split(csv_delimiter(header, path))]


# ----------------------------------------------------------------------------- machine codes


def clean_codes(pred: pd.DataFrame, codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Check machine codes already in memory as :func:`read_codes` does; :data:`CODES_FILE_COLUMNS`."""
    import numpy as np
    import pandas as pd

    what = "machine codes"
    require_columns(pred, [_DOC, _SEG_ID, _CODE], what)
    frame = pred.copy()
    frame.attrs = dict(pred.attrs)
    for col in (_DOC, _SEG_ID, _CODE):
        frame[col] = frame[col].map(lambda v: "" if _missing(v) else str(v).strip())
    for col in (_DOC, _SEG_ID):
        empty = frame[col] == ""
        if empty.any():
            row = int(np.flatnonzero(empty.to_numpy())[0])
            raise row_error(frame, row, f"{what}: empty {col}")
    for col in (_START, _END):
        # optional: needed only when the units come from this table (no segments given)
        if col not in frame.columns:
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
            continue
        given = ~frame[col].map(_missing).astype(bool)
        values = pd.Series(pd.NA, index=frame.index, dtype="Int64")
        if given.any():
            values[given] = int_column(frame[given], col, what).to_numpy()
        frame[col] = values
    # float always: an empty table would otherwise read as int64
    frame[_SCORE] = (pd.to_numeric(frame[_SCORE], errors="coerce").astype(float) if _SCORE in frame.columns
                     else np.nan)
    if _METHOD not in frame.columns:
        frame[_METHOD] = ""
    frame[_EVIDENCE] = (frame[_EVIDENCE].map(lambda v: "" if _missing(v) else str(v))
                        if _EVIDENCE in frame.columns else "")
    _check_codes(frame, codes, what)
    frame = frame[CODES_FILE_COLUMNS]
    if frame.empty:
        warnings.warn("machine codes table has no rows: every unit counts as uncoded", PsythemesWarning,
                      stacklevel=3)
        return frame.reset_index(drop=True)
    frame = frame.sort_values(_SCORE, ascending=False, na_position="last", kind="stable")
    dup = frame.duplicated(subset=[_SEG_ID, _CODE]) & (frame[_CODE] != "")
    _warn_count(int(dup.sum()), "duplicate machine code row(s) (same segment and code) removed, "
                                "keeping the highest score")
    return frame[~dup].sort_index().reset_index(drop=True)


def read_codes(path: str | Path, *, codes: Sequence[str] | None = None) -> pd.DataFrame:
    """Read and check a machine-codes CSV (``codes.csv`` of ``map`` or ``extract``, or another tool's).

    ``doc_id, segment_id, code`` are required; ``start, end`` are needed when no segments
    table is given to :func:`psythemes.evaluate.evaluate`; ``score``, ``method`` and
    ``evidence`` are optional.  The result has :data:`CODES_FILE_COLUMNS` (an absent
    ``evidence`` is empty).  A row with an empty ``code`` marks a segment the machine saw and
    left uncoded.  Duplicate (segment, code) rows are removed with a counted warning, keeping
    the highest score; codes outside ``codes`` are an :class:`InputError`; an empty table
    gives a warning.
    """
    frame = _read_csv(path, [_DOC, _SEG_ID, _CODE], "machine codes")
    return clean_codes(frame, codes)


def write_codes(path: str | Path, codes: pd.DataFrame) -> Path:
    """Write machine codes (``.csv``, or ``.parquet`` by suffix) atomically with
    :data:`CODES_FILE_COLUMNS`, whichever mapper made them: ``evidence`` is written empty where
    the mapper gives none (few-shot), so ``codes.csv`` from ``map`` and from ``extract`` match."""
    from .outputs import write_table

    if _EVIDENCE not in codes.columns:
        codes = codes.assign(**{_EVIDENCE: ""})
    return write_table(path, codes[CODES_FILE_COLUMNS])


# ----------------------------------------------------------------------------- evaluation


def write_evaluation(evaluation: Evaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write the evaluation files into ``out_dir`` (atomically, via :mod:`psythemes.outputs`).

    Files: ``agreement.json`` (summary, per-code table, human baseline), ``agreement.csv``
    (per code), ``confusion.csv``, ``disagreements.csv``, ``units.csv`` and, with 2+ gold
    coders, ``human_baseline.csv``.

    Returns
    -------
    dict
        File role -> path written.
    """
    from .outputs import prepare_out_dir, write_json, write_table

    out = prepare_out_dir(out_dir)
    paths = {
        "agreement_json": write_json(out / "agreement.json", {
            "summary": evaluation.summary,
            "per_code": evaluation.per_code.to_dict("records"),
            "human_baseline": (None if evaluation.human_baseline is None
                               else evaluation.human_baseline.to_dict("records")),
        }),
        "agreement_csv": write_table(out / "agreement.csv", evaluation.per_code),
        "confusion": write_table(out / "confusion.csv", evaluation.confusion),
        "disagreements": write_table(out / "disagreements.csv", evaluation.disagreements),
        "units": write_table(out / "units.csv", evaluation.units),
    }
    if evaluation.human_baseline is not None:
        paths["human_baseline"] = write_table(out / "human_baseline.csv", evaluation.human_baseline)
    return paths


# ----------------------------------------------------------------------------- a run folder


@dataclass(frozen=True)
class RunTables:
    """The tables of an ``extract`` output folder, as :func:`read_run` reads them."""

    segments: pd.DataFrame
    codes: pd.DataFrame
    transcripts: list[Any]
    codebook: Any
    manifest: dict[str, Any]
    run_dir: Path


def read_run(run_dir: str | Path) -> RunTables:
    """Read an ``extract`` output folder: ``segments.csv`` (:func:`read_segments`), ``codes.csv``
    (:func:`read_codes`), ``transcripts.jsonl``, ``codebook.yaml`` and ``manifest.json`` (empty
    when absent or unreadable)."""
    from .codebook import load_codebook
    from .io import load_transcripts_jsonl

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError("not a run folder (give the output folder of 'psythemes extract')", path=run_dir)
    for name in ("segments.csv", "codes.csv", "transcripts.jsonl", "codebook.yaml"):
        if not (run_dir / name).is_file():
            raise InputError(f"run folder lacks {name} (is it the output folder of 'psythemes extract'?)",
                             path=run_dir)
    try:
        manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    return RunTables(segments=read_segments(run_dir / "segments.csv"), codes=read_codes(run_dir / "codes.csv"),
                     transcripts=load_transcripts_jsonl(run_dir / "transcripts.jsonl"),
                     codebook=load_codebook(run_dir / "codebook.yaml"), manifest=manifest, run_dir=run_dir)


# ----------------------------------------------------------------------------- themes

def parse_quotes(value: Any) -> list[Mapping[str, Any]]:
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
        for tid, cell in zip(themes["theme_id"].tolist(), themes["top_quotes"].tolist(), strict=True):
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
            out[tid].append({k: (None if _quote_field_missing(v) else v) for k, v in rec.items()})
    return out


def _quote_field_missing(value: Any) -> bool:
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


# ============================================================================= review sheets
# The review sheet (``psythemes review`` / ``psythemes next``): its layout, its writer and its
# reader (reader :func:`read_review`, writer :func:`write_review_sheet`).  The rows are built in
# memory by :func:`psythemes.review.review_table`.

__all__ += ["REVIEW_COLUMNS", "ACCEPT", "REJECT", "DEFAULT_REVIEWER", "ReviewDecisions", "read_review",
            "count_decisions", "write_review_sheet"]

#: Columns of a review sheet, in order.
REVIEW_COLUMNS: list[str] = [
    "doc_id", "start", "end", "speaker", "turn_before", "text", "suggested_code", "score", "evidence",
    "decision", "memo", "reviewer", "segment_id",
]
ACCEPT = "accept"
REJECT = "reject"
#: Words taken as accept / reject in the decision column (case-insensitive); any but the two
#: documented ones is named in a warning with its count.
_ACCEPT_WORDS = {"accept", "accepted", "yes", "y", "ok", "agree", "✓", "✔"}
_REJECT_WORDS = {"reject", "rejected", "no", "n", "disagree", "✗", "✘"}
#: Marks that mean accept to one reviewer and reject to another: refused, never guessed.
_AMBIGUOUS_MARKS = {"x", "*", "-", "+", "?"}
#: Coder name for decisions whose reviewer is not known (with a warning).
DEFAULT_REVIEWER = "reviewer"
_REVIEW_KEYS = ["doc_id", "start", "end"]
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


def write_review_sheet(table: pd.DataFrame, path: str | Path, *, codes: Sequence[str]) -> Path:
    """Write a review sheet as ``.xlsx`` (by suffix) or as a UTF-8-with-BOM ``.csv``, atomically.

    Parameters
    ----------
    table : DataFrame
        From :func:`psythemes.review.review_table`.
    path : path
        ``.xlsx`` or ``.csv``.
    codes : sequence of str
        Code names for the decision drop-down (after ``accept`` and ``reject``).
    """
    import csv
    import io as _io

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
    import numpy as np
    import pandas as pd

    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _xlsx_bytes(table: pd.DataFrame, codes: Sequence[str]) -> bytes:
    import io as _io

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


def read_review(path: str | Path, *, codes: Sequence[str] | Codebook | None = None) -> ReviewDecisions:
    """Read a filled-in review sheet (``.xlsx`` or ``.csv``) as gold codes.

    Parameters
    ----------
    path : path
    codes : sequence of str or Codebook, optional
        The codebook's code names (a codebook: its codable codes; a heading is named as one),
        matched as gold codes are (case, punctuation, spacing, path; a warning names the
        guesses); decisions naming other codes are one
        :class:`~psythemes.errors.InputError` naming their rows.  Default: any name is taken
        (and only ``;`` separates codes in a cell).

    Returns
    -------
    ReviewDecisions
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("review sheet not found", path=path)
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        rows, default_reviewer = _xlsx_rows(path)
    else:
        rows, default_reviewer = _csv_rows(path), ""
    return _decisions(rows, path, codes, default_reviewer)


def count_decisions(path: str | Path) -> int:
    """How many rows of the review sheet at ``path`` have a filled decision cell, read as
    :func:`read_review` reads them but without checking what the cells say: the work that
    ``psythemes review`` and ``psythemes next`` must not overwrite.

    Raises
    ------
    InputError
        When ``path`` cannot be read as a review sheet (no ``decision`` column, not UTF-8, not an
        ``.xlsx``, a decision formula with no saved value).
    """
    path = Path(path)
    rows = _xlsx_rows(path)[0] if path.suffix.lower() in SPREADSHEET_SUFFIXES else _csv_rows(path)
    return sum(1 for _, rec in rows if _cell_text(rec.get("decision")))


def _header_index(header: Sequence[Any], path: Path) -> dict[str, int]:
    names = [str(h).strip().lower() if h is not None else "" for h in header]
    needed = [*_REVIEW_KEYS, "decision"]
    missing = [c for c in needed if c not in names]
    if missing:
        raise InputError(f"not a review sheet: no column(s) {', '.join(missing)} in the header row", path=path)
    return {name: names.index(name) for name in dict.fromkeys(names) if name}


def _csv_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    import csv
    import io as _io

    from .io import _read_bytes, decode_table_bytes

    # as every other table: a sheet saved by Excel on Windows (cp1252) is read, the guess named
    text = decode_table_bytes(_read_bytes(path), path)
    reader = list(csv.reader(_io.StringIO(text), delimiter=csv_delimiter(text, path)))
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
            if isinstance(raw, str) and raw.startswith("=") and key in (*_REVIEW_KEYS, "decision", "reviewer"):
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
    import numpy as np

    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _decisions(rows: list[tuple[int, dict[str, Any]]], path: Path, codes: Sequence[str] | Codebook | None,
               default_reviewer: str) -> ReviewDecisions:
    import pandas as pd

    names = _DecisionNames(codes)
    segments: dict[tuple[str, int, int, str], set[str]] = {}
    # what each row decided on one suggestion: two rows that differ contradict each other
    verdicts: dict[tuple[str, int, int, str, str], tuple[int, frozenset[str]]] = {}
    problems: list[tuple[int, str]] = []
    n_rows = n_undecided = 0
    guessed_reviewer = 0
    synonyms: Counter[str] = Counter()
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
        word = decision.casefold()
        if word in _AMBIGUOUS_MARKS:
            problems.append((lineno, f"decision {decision!r} may mean accept or reject: write 'accept' or 'reject'"))
            continue
        if word in _ACCEPT_WORDS and "suggested_code" not in rec:
            problems.append((lineno, (f"decision {decision!r} accepts the suggestion, but the sheet has no "
                                      "suggested_code column any more: put it back, or name the code(s) instead")))
            continue
        if word in _OTHER_DECISION_WORDS:
            synonyms[decision] += 1
        suggested = cells.get("suggested_code", "")
        found, problem = names.decision(decision, suggested)
        if problem:
            problems.append((lineno, problem))
            continue
        chosen.update(found)
        key = (doc, s, e, reviewer, suggested.casefold())
        earlier = verdicts.setdefault(key, (lineno, frozenset(found)))
        if earlier[1] != frozenset(found):
            problems.append((lineno, (f"decides otherwise than line {earlier[0]} on the same suggestion "
                                      f"({suggested or 'no code'!r} on {doc} [{s}, {e})): keep one of the two "
                                      "rows (several codes go in one cell, separated by ';')")))
    if problems:
        raise _decision_error(problems, path, names.known)
    if synonyms:
        taken = ", ".join(f"{word!r} as {ACCEPT if word.casefold() in _ACCEPT_WORDS else REJECT} ({n})"
                          for word, n in synonyms.most_common())
        warnings.warn(f"{path}: {synonyms.total()} decision(s) are written with other words than accept and "
                      f"reject, and taken as: {taken}", PsythemesWarning, stacklevel=3)
    if names.known is not None:
        from .codebook import warn_aliased, warn_respelt

        spelt = warn_aliased(names.used, names.known, "decision", source=path, stacklevel=4)
        warn_respelt(spelt, "decision", source=path, stacklevel=4)
    if guessed_reviewer:
        warnings.warn(f"{path}: {guessed_reviewer} decision(s) have no reviewer name; recorded as coder "
                      f"{DEFAULT_REVIEWER!r} (fill the reviewer column, or 'psythemes review --reviewer NAME')",
                      PsythemesWarning, stacklevel=3)
    gold_rows = [(d, s, e, c, r) for (d, s, e, r), chosen in segments.items() for c in sorted(chosen)]
    gold = pd.DataFrame(gold_rows, columns=GOLD_COLUMNS)
    reviewed = pd.DataFrame([(d, s, e, r, tuple(sorted(c))) for (d, s, e, r), c in segments.items()],
                            columns=["doc_id", "start", "end", "coder", "codes"])
    return ReviewDecisions(gold=gold, reviewed=reviewed, n_rows=n_rows, n_undecided=n_undecided)


#: The separator of several codes in one decision cell (the one the docs and the drop-down name).
_DECISION_SEPARATOR = ";"
#: How many different faults one error lists, each with its lines (then "and N more").
_SHOWN_PROBLEMS = 10
_DECISION_WORDS = _ACCEPT_WORDS | _REJECT_WORDS
# accepted and counted in a warning: not the two words the docs and the drop-down give
_OTHER_DECISION_WORDS = _DECISION_WORDS - {ACCEPT, REJECT}


class _DecisionNames:
    """Reads decision cells against the codebook: the words ``accept``/``reject``, or code names
    matched as gold codes are (:func:`psythemes.codebook.resolve_code_names`: exact, case, slug, path).

    A cell is not split where it names a code whole: code names may hold commas (``Work, pacing
    and daily life``, picked from the sheet's own drop-down).  Otherwise ``;`` separates codes,
    and a comma separates them only where every piece is a code (sheets filled in before ``;``
    was the one separator).  Without a codebook only ``;`` separates.
    """

    def __init__(self, codes: Sequence[str] | Codebook | None):
        self.known: list[str] | None = None
        self.headings: list[str] = []
        self.aliases: dict[str, str] = {}
        if codes is not None:
            self.known, self.headings, self.aliases = _code_names(codes)
        #: label -> code name, for the labels taken (for :func:`~psythemes.codebook.warn_respelt`)
        self.used: dict[str, str] = {}
        self._hits: dict[str, str | None] = {}
        self._misses: dict[str, str] = {}

    def code(self, label: str) -> str | None:
        """The code ``label`` names, or None (the reason kept for :meth:`why`)."""
        if self.known is None:
            # no codebook: any name is a code, but a ';' or an accept/reject word is never part of one
            return None if label.casefold() in _DECISION_WORDS or _DECISION_SEPARATOR in label else label
        if label not in self._hits:
            from .codebook import resolve_code_names

            try:
                self._hits[label] = resolve_code_names([label], self.known, what="decision code",
                                                       headings=self.headings, aliases=self.aliases)[label]
            except InputError as err:
                self._hits[label], self._misses[label] = None, err.message
        return self._hits[label]

    def why(self, label: str) -> str:
        """Why ``label`` is no code, without the list of codes (the error gives that once)."""
        message = self._misses.get(label, f"decision code {label!r} is not in the codebook")
        return message.partition("; codes: ")[0]

    def _piece(self, text: str) -> tuple[dict[str, str], list[str], list[str]]:
        """``({label: code}, accept/reject words, unknown labels)`` of one ``;``-separated part."""
        hit = self.code(text)
        if hit is not None:
            return {text: hit}, [], []
        if text.casefold() in _DECISION_WORDS:
            return {}, [text], []
        if "," in text:
            pieces = [p.strip() for p in text.split(",") if p.strip()]
            found = {p: c for p in pieces if (c := self.code(p)) is not None}
            words = [p for p in pieces if p not in found and p.casefold() in _DECISION_WORDS]
            if len(found) + len(words) == len(pieces):
                return found, words, []
            if found:  # "Moral distress, Work load Pressure": say which piece is no code, not the whole cell
                return {}, [], [p for p in pieces if p not in found and p not in words]
        return {}, [], [text]

    def decision(self, decision: str, suggested: str) -> tuple[list[str], str | None]:
        """The codes a decision cell gives its segment, and what is wrong with it (or None)."""
        from .codebook import respelt_labels

        word = decision.casefold()
        if word in _ACCEPT_WORDS:
            if not suggested:
                return [], None  # accepting "no code" (a row of 'psythemes next' without a suggestion)
            hit = self.code(suggested)
            if hit is None:
                return [], f"the accepted suggestion: {self.why(suggested)}"
            self.used[suggested] = hit
            return [hit], None
        if word in _REJECT_WORDS:
            return [], None
        parts = [p.strip() for p in decision.split(_DECISION_SEPARATOR) if p.strip()]
        whole = self.code(decision)
        # the whole cell wins (a code name may hold a ','), unless it is only a guess (by slug) and
        # the documented separator ';' gives codes that are all in the codebook
        if whole is not None and (len(parts) < 2 or not respelt_labels({decision: whole})
                                  or not all(self.code(p) is not None for p in parts)):
            parts = [decision]
        found: dict[str, str] = {}
        words: list[str] = []
        unknown: list[str] = []
        for part in parts:
            codes, said, missing = self._piece(part)
            found.update(codes)
            words += said
            unknown += missing
        if unknown:
            return [], "; ".join(self.why(label) for label in unknown)
        if words:
            return [], _mixed_decision(decision, words[0], suggested, list(found.values()))
        self.used.update(found)
        return list(found.values()), None


def _mixed_decision(decision: str, word: str, suggested: str, codes: list[str]) -> str:
    """The message for ``accept`` or ``reject`` written together with code names: what a cell may hold."""
    if word.casefold() in _ACCEPT_WORDS:
        example = f"{_DECISION_SEPARATOR} ".join(dict.fromkeys([suggested, *codes] if suggested else codes))
        fix = "to keep the suggestion and add codes, name every code that applies"
    else:
        example = f"{_DECISION_SEPARATOR} ".join(codes)
        fix = "to replace the suggestion, name only the code(s) that apply instead"
    if example:
        fix += f", e.g. {example!r}"
    return (f"decision {decision!r} mixes {word!r} with code names ('accept' and 'reject' stand alone: {fix}, "
            f"several separated by '{_DECISION_SEPARATOR}')")


def _decision_error(problems: list[tuple[int, str]], path: Path, known: list[str] | None) -> InputError:
    """One error for every faulty decision of a sheet (the first few, then how many more), so that a
    reviewer fixes them in one go rather than one per run."""
    codes = f"; codes: {', '.join(known)}" if known is not None else ""
    if len(problems) == 1:
        lineno, message = problems[0]
        return InputError(f"{message}{codes}", path=path, line=lineno)
    # the same fault on many lines (one misspelt code copied down a column) is said once, with its lines
    lines: dict[str, list[int]] = {}
    for lineno, message in problems:
        lines.setdefault(message, []).append(lineno)
    groups = list(lines.items())
    shown = "; ".join(f"line{'s' if len(at) > 1 else ''} {', '.join(map(str, at))}: {message}"
                      for message, at in groups[:_SHOWN_PROBLEMS])
    hidden = groups[_SHOWN_PROBLEMS:]
    more = f"; and {len(hidden)} more fault(s) on {sum(len(at) for _, at in hidden)} line(s)" if hidden else ""
    return InputError(f"{len(problems)} decisions cannot be read: {shown}{more}{codes}", path=path)
