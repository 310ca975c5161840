"""``results.xlsx``: every CSV table of a run as one Excel workbook, one sheet per table.

The CSV files stay the reference (UTF-8 without a byte-order mark, which pandas, R and every
other program that reads the tables expect; Excel guesses a legacy encoding for such CSVs and
garbles accents and curly quotes).  The workbook is for people who open the tables in Excel:
it holds the same rows, written from the CSV files themselves, so both always agree.

Excel limits a cell to 32,767 characters and a sheet to 1,048,576 rows; longer cells are cut
(ending in "…") and longer tables keep their first rows, and the ``about`` sheet says so (a table
cut to Excel's rows also gives a warning).  The CSV files are read :data:`CHUNK_ROWS` rows at a
time, so a run of a million segments does not hold its largest tables twice while writing this.
Text is always stored as text, never as a formula: a transcript line that starts with ``=``
stays a quote.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import PsythemesWarning
from .outputs import atomic_open

__all__ = ["MAX_CELL_CHARS", "MAX_ROWS", "CHUNK_ROWS", "excel_text", "sheet_names", "write_workbook"]

#: Excel's limits: characters in one cell, rows in one sheet (the header takes one).
MAX_CELL_CHARS = 32_767
MAX_ROWS = 1_048_576
#: Rows of a CSV file read at a time.
CHUNK_ROWS = 50_000


def excel_text(value: str) -> str:
    """``value`` as an Excel cell holds it: at most :data:`MAX_CELL_CHARS` characters, a longer
    text cut and ending in "…" (so the cut shows, where openpyxl would cut it silently)."""
    return value if len(value) <= MAX_CELL_CHARS else value[: MAX_CELL_CHARS - 1] + "…"


def sheet_names(paths: Sequence[Path]) -> list[str]:
    """One unique sheet name per file: its stem, at most 31 characters, no ``[]:*?/\\``."""
    names: list[str] = []
    for path in paths:
        base = "".join("_" if ch in "[]:*?/\\" else ch for ch in Path(path).stem)[:31] or "table"
        name, k = base, 2
        while name.lower() in {n.lower() for n in names} or name.lower() == "about":
            suffix = f"_{k}"
            name, k = base[: 31 - len(suffix)] + suffix, k + 1
        names.append(name)
    return names


def write_workbook(path: str | Path, csv_paths: Sequence[str | Path]) -> Path:
    """Write the CSV files as sheets of one workbook (atomically); return its path.

    Parameters
    ----------
    path : path
        The ``.xlsx`` file to write.
    csv_paths : sequence of path
        UTF-8 CSV files (as psythemes writes them); each becomes a sheet named after the file.

    Returns
    -------
    Path
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    paths = [Path(p) for p in csv_paths]
    workbook = Workbook(write_only=True)
    about = workbook.create_sheet("about")
    notes: list[list[str | int]] = []
    for csv_path, name in zip(paths, sheet_names(paths), strict=True):
        columns, chunks = _read_csv_chunks(csv_path)
        sheet = workbook.create_sheet(name)
        sheet.append([str(c) for c in columns])
        n_rows = n_kept = n_cut = 0
        for chunk in chunks:
            n_rows += len(chunk)
            kept = chunk.head(max(0, MAX_ROWS - 1 - n_kept))
            n_kept += len(kept)
            for row in kept.itertuples(index=False):
                cells: list[Any] = []
                for value in row:
                    if value is None or (isinstance(value, float) and value != value):
                        cells.append(None)
                        continue
                    if isinstance(value, str):
                        n_cut += len(value) > MAX_CELL_CHARS
                        cell = WriteOnlyCell(sheet, value=excel_text(value))
                        cell.data_type = "s"  # text, never a formula
                        cells.append(cell)
                    else:
                        cells.append(value.item() if hasattr(value, "item") else value)
                sheet.append(cells)
        note = []
        if n_rows > n_kept:
            note.append(f"first {n_kept:,} of {n_rows:,} rows (Excel's limit)")
            warnings.warn(f"{csv_path.name} has {n_rows:,} rows, more than an Excel sheet holds: its sheet in "
                          f"{Path(path).name} keeps the first {n_kept:,} (the CSV file has them all)",
                          PsythemesWarning, stacklevel=2)
        if n_cut:
            note.append(f"{n_cut} cell(s) cut at {MAX_CELL_CHARS:,} characters")
        notes.append([name, csv_path.name, n_rows, "; ".join(note) or "complete"])
    about.append(["sheet", "file", "rows", "note"])
    for row in notes:
        about.append(row)
    about.append([])
    about.append(["The CSV files beside this workbook are the reference; this workbook repeats them for Excel."])
    # straight into the temporary file: a large workbook is not also held in memory as bytes
    with atomic_open(path, "wb", encoding=None) as fh:
        workbook.save(fh)
    return Path(path)


def _read_csv_chunks(path: Path) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """A CSV file's columns and its rows, :data:`CHUNK_ROWS` at a time, each cell typed as reading
    the whole file with pandas would type it.

    pandas infers a column's type from the rows it reads: read in chunks, a column of numbers with
    a word further down would be numbers in one chunk and text in another, or whole numbers in one
    and fractions in the next.  A first pass notes the type each chunk found; the second reads a
    column that is text anywhere as text, and makes whole numbers fractions (and ``True``/``False``
    objects) where the whole column is so.
    """
    try:
        columns = [str(c) for c in _read_csv(path, nrows=0).columns]
    except pd.errors.EmptyDataError:
        return [], iter(())
    kinds: dict[Any, set[str]] = {}
    for chunk in _read_csv(path, chunksize=CHUNK_ROWS):
        for name, column in chunk.items():
            kinds.setdefault(name, set()).add(_chunk_kind(column))
    whole = {name: _whole_kind(found) for name, found in kinds.items()}
    if "other" in whole.values():
        # a type this does not know how to join across chunks (e.g. integers past 2**63): read at once
        return columns, iter([_read_csv(path)])
    as_text = [name for name, kind in whole.items() if kind == "text"]

    def chunks() -> Iterator[pd.DataFrame]:
        for chunk in _read_csv(path, chunksize=CHUNK_ROWS, dtype=dict.fromkeys(as_text, str)):
            for name, kind in whole.items():
                if kind == "float" and chunk[name].dtype != float:
                    chunk[name] = chunk[name].astype(float)
                elif kind == "object" and chunk[name].dtype != object:
                    chunk[name] = chunk[name].astype(object)
            yield chunk

    return columns, chunks()


def _read_csv(path: Path, **options: Any) -> Any:
    return pd.read_csv(path, encoding="utf-8-sig", low_memory=False, **options)


def _chunk_kind(column: pd.Series) -> str:
    """What pandas made of one chunk of a column: int, float, bool, bool-na (booleans and gaps),
    empty (no values), text, or other."""
    values = column.dropna()
    if values.empty:
        return "empty"
    if column.dtype == "int64":
        return "int"
    if column.dtype == "float64":
        return "float"
    if column.dtype == bool:
        return "bool"
    if column.dtype == object:
        if all(isinstance(v, bool) for v in values):
            return "bool-na"
        return "text"
    if isinstance(column.dtype, pd.StringDtype):
        # pandas 3 reads text as its string type: not "other", or every file with text in it
        # would be read whole (a million segments' texts at once)
        return "text"
    return "other"


def _whole_kind(kinds: set[str]) -> str:
    """The type of a whole column from its chunks' kinds: as is (``same``), float, object, text or other."""
    found = kinds - {"empty"}
    if "other" in found:
        return "other"
    if not found or (len(found) == 1 and found == kinds):
        return "same"  # every chunk has the same kind, or none has a value
    if found <= {"int", "float"}:
        return "float"  # whole numbers beside fractions or gaps
    if found <= {"bool", "bool-na"}:
        return "object"  # booleans beside gaps: pandas keeps True/False objects and NaN
    return "text"  # numbers beside words, or booleans beside numbers: every cell as written
