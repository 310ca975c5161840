"""results.xlsx: one sheet per CSV table, same rows, text never a formula, Excel's limits said."""

from __future__ import annotations

import pandas as pd
import pytest

from psythemes.outputs import write_table
from psythemes.workbook import sheet_names, write_workbook

openpyxl = pytest.importorskip("openpyxl")


def test_workbook_repeats_every_csv_as_a_sheet(tmp_path, monkeypatch):
    segments = pd.DataFrame({"doc_id": ["P01", "P02"], "start": [0, 12], "text": ["Café “crème”", "=SUM(A1:A2) said"],
                             "score": [0.5, float("nan")]})
    themes = pd.DataFrame({"theme_id": [0, 1], "label": ["pain·sleep", "work"]})
    a, b = write_table(tmp_path / "segments.csv", segments), write_table(tmp_path / "themes.csv", themes)
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    from psythemes import workbook as wb

    monkeypatch.setattr(wb, "MAX_CELL_CHARS", 10)
    path = write_workbook(tmp_path / "results.xlsx", [a, b, tmp_path / "empty.csv"])
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["about", "segments", "themes", "empty"]
    rows = list(book["segments"].iter_rows(values_only=True))
    assert rows[0] == ("doc_id", "start", "text", "score")
    assert rows[1] == ("P01", 0, "Café “crè…", 0.5)  # cut at the (patched) cell limit, accents intact
    cell = book["segments"]["C3"]
    assert cell.data_type == "s" and cell.value == "=SUM(A1:A…"  # text, not a formula
    assert rows[2][3] is None
    about = list(book["about"].iter_rows(values_only=True))
    assert ("segments", "segments.csv", 2, "2 cell(s) cut at 10 characters") in about
    assert ("themes", "themes.csv", 2, "complete") in about
    assert [r[:2] for r in book["themes"].iter_rows(values_only=True)] == [("theme_id", "label"), (0, "pain·sleep"),
                                                                          (1, "work")]


def test_sheet_names_are_unique_and_valid():
    from pathlib import Path

    names = sheet_names([Path("a/themes_by_role.csv"), Path("b/themes_by_role.csv"), Path("about.csv"),
                         Path("x" * 40 + ".csv"), Path("what?.csv")])
    assert names == ["themes_by_role", "themes_by_role_2", "about_2", "x" * 31, "what_"]


def test_workbook_read_in_chunks_types_cells_as_one_whole_read(tmp_path, monkeypatch):
    from psythemes import workbook as wb

    # each column changes type after the first chunks: whole numbers then fractions, numbers then a
    # word, booleans then a gap, numbers then booleans; one column stays text, one stays integer
    csv = tmp_path / "mixed.csv"
    csv.write_text("ints_then_floats,numbers_then_word,bools_then_gap,numbers_then_bools,text,whole\n"
                   "1,1.50,True,1,a,1\n2,2,False,2,b,2\n3,3,True,3,c,3\n"
                   "4.5,4,,True,d,4\n5,x,False,False,e,5\n", encoding="utf-8")
    whole = pd.read_csv(csv, low_memory=False)
    monkeypatch.setattr(wb, "CHUNK_ROWS", 2)
    path = write_workbook(tmp_path / "results.xlsx", [csv])
    rows = list(openpyxl.load_workbook(path)["mixed"].iter_rows(values_only=True))
    expected = [tuple(None if (isinstance(v, float) and v != v) else (v.item() if hasattr(v, "item") else v)
                      for v in row) for row in whole.itertuples(index=False)]
    assert rows[1:] == expected
    assert rows[1][1] == "1.50" and rows[1][0] == 1.0 and rows[1][5] == 1  # as written / float / int


def test_a_table_past_excels_rows_is_cut_with_a_warning(tmp_path, monkeypatch):
    from psythemes import workbook as wb
    from psythemes.errors import PsythemesWarning

    table = write_table(tmp_path / "codes.csv", pd.DataFrame({"n": range(7)}))
    monkeypatch.setattr(wb, "MAX_ROWS", 5)  # 4 rows and the header
    monkeypatch.setattr(wb, "CHUNK_ROWS", 3)
    with pytest.warns(PsythemesWarning, match="codes.csv has 7 rows, more than an Excel sheet holds: "
                                              "its sheet in results.xlsx keeps the first 4"):
        path = write_workbook(tmp_path / "results.xlsx", [table])
    book = openpyxl.load_workbook(path)
    assert [r[0] for r in book["codes"].iter_rows(values_only=True)] == ["n", 0, 1, 2, 3]
    assert ("codes", "codes.csv", 7, "first 4 of 7 rows (Excel's limit)") in list(
        book["about"].iter_rows(values_only=True))


def test_a_table_with_text_is_read_in_chunks_not_whole(tmp_path, monkeypatch):
    from psythemes import workbook as wb

    # pandas 3 reads text as its string dtype: such a column must not send the file to a whole
    # read (a million segments' texts at once), and the cells stay those of one whole read
    csv = tmp_path / "segments.csv"
    csv.write_text("segment_id,text,role,n\ns1,hello,,1\ns2,=1+1,,2\ns3,,patient,3\ns4,bye,,4\ns5,x,,5\n",
                   encoding="utf-8")
    whole = pd.read_csv(csv, low_memory=False)
    reads = []
    original = wb._read_csv

    def recording(path, **options):
        reads.append(options)
        return original(path, **options)

    monkeypatch.setattr(wb, "_read_csv", recording)
    monkeypatch.setattr(wb, "CHUNK_ROWS", 2)
    path = write_workbook(tmp_path / "results.xlsx", [csv])
    assert all("chunksize" in r or r.get("nrows") == 0 for r in reads), reads
    rows = list(openpyxl.load_workbook(path)["segments"].iter_rows(values_only=True))
    expected = [tuple(None if (isinstance(v, float) and v != v) else (v.item() if hasattr(v, "item") else v)
                      for v in row) for row in whole.itertuples(index=False)]
    assert rows[1:] == expected
