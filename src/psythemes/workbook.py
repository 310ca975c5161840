"""``results.xlsx``: every CSV table of a run as one Excel workbook, one sheet per table.

The CSV files stay the reference (UTF-8 without a byte-order mark, which pandas, R and every
other program that reads the tables expect; Excel guesses a legacy encoding for such CSVs and
garbles accents and curly quotes).  The workbook is for people who open the tables in Excel:
it holds the same rows, written from the CSV files themselves, so both always agree.

Excel limits a cell to 32,767 characters and a sheet to 1,048,576 rows; longer cells are cut
(ending in "…") and longer tables keep their first rows, and the ``about`` sheet says so.
Text is always stored as text, never as a formula: a transcript line that starts with ``=``
stays a quote.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .outputs import write_bytes

__all__ = ["MAX_CELL_CHARS", "MAX_ROWS", "excel_text", "sheet_names", "write_workbook"]

#: Excel's limits: characters in one cell, rows in one sheet (the header takes one).
MAX_CELL_CHARS = 32_767
MAX_ROWS = 1_048_576


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
        try:
            table = pd.read_csv(csv_path, encoding="utf-8-sig", low_memory=False)
        except pd.errors.EmptyDataError:
            table = pd.DataFrame()
        sheet = workbook.create_sheet(name)
        sheet.append([str(c) for c in table.columns])
        kept = table.head(MAX_ROWS - 1)
        n_cut = 0
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
        if len(table) > len(kept):
            note.append(f"first {len(kept):,} of {len(table):,} rows (Excel's limit)")
        if n_cut:
            note.append(f"{n_cut} cell(s) cut at {MAX_CELL_CHARS:,} characters")
        notes.append([name, csv_path.name, len(table), "; ".join(note) or "complete"])
    about.append(["sheet", "file", "rows", "note"])
    for row in notes:
        about.append(row)
    about.append([])
    about.append(["The CSV files beside this workbook are the reference; this workbook repeats them for Excel."])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return write_bytes(path, buffer.getvalue())
