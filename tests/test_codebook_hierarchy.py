"""A code tree from a parent column follows the rules of a tree from code paths (docs/codebook.md).

The fixtures imitate MAXQDA's code system exported to Excel: a ``Parent code`` column beside
``Code`` and ``Code memo``, the same leaf name under two parents, a path in a parent cell, and
parents that have no row of their own.
"""

from __future__ import annotations

import warnings

import pytest

from psythemes.codebook import load_codebook, save_codebook
from psythemes.errors import InputError, PsythemesWarning

openpyxl = pytest.importorskip("openpyxl")

HEADER = ("Parent code", "Code", "Code memo", "Coded segments")
ROWS = [
    (None, "Mechanisms", None, 1),
    ("Mechanisms", "Awareness", "Awareness of the interaction between body and mind.", 1),
    ("Mechanisms", "Alliance", "Rapport with the therapist.", 1),
    ("Mechanisms\\Alliance", "Trust", "Explicit statements of trust in the therapist.", 1),
    ("Context", "Family", "Family circumstances mentioned as context.", 1),
    ("Context", "Work", None, 1),
    ("Barriers", "Family", "Family obligations as a barrier to doing the exercises.", 1),
]
# the same codebook as MAXQDA's code import writes it: names as paths, no parent column
AS_PATHS = ("Code;Code memo;Coded segments of all documents\n"
            "Mechanisms;;1\n"
            "Mechanisms\\Awareness;Awareness of the interaction between body and mind.;1\n"
            "Mechanisms\\Alliance;Rapport with the therapist.;1\n"
            "Mechanisms\\Alliance\\Trust;Explicit statements of trust in the therapist.;1\n"
            "Context\\Family;Family circumstances mentioned as context.;1\n"
            "Context\\Work;;1\n"
            "Barriers\\Family;Family obligations as a barrier to doing the exercises.;1\n")


def _xlsx(path, rows, header=HEADER):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def _load(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cb = load_codebook(path)
    return cb, [str(w.message) for w in caught if issubclass(w.category, PsythemesWarning)]


def test_parent_column_builds_the_tree_that_code_paths_build(tmp_path):
    by_column, said = _load(_xlsx(tmp_path / "maxqda_codes_parentcol.xlsx", ROWS))
    csv_path = tmp_path / "maxqda_codes.csv"
    csv_path.write_text(AS_PATHS, encoding="utf-8-sig")
    by_path, _ = _load(csv_path)
    assert by_column.parent_of == by_path.parent_of == {
        "Mechanisms": None, "Awareness": "Mechanisms", "Alliance": "Mechanisms", "Trust": "Alliance",
        "Context": None, "Context > Family": "Context", "Work": "Context",
        "Barriers": None, "Barriers > Family": "Barriers"}
    assert [c.name for c in by_column.codable()] == [c.name for c in by_path.codable()]
    assert not by_column["Context"].codable and by_column["Context"].definition == "Context"
    assert by_column["Barriers > Family"].definition == "Family obligations as a barrier to doing the exercises."
    assert by_column["Trust"].definition == by_path["Trust"].definition
    [message] = [m for m in said if "code tree" in m]
    assert "the parent column" in message
    assert "2 parents without a row of their own became headings that are never assigned: 'Barriers', 'Context'" \
        in message
    assert "named by their paths: 'Barriers > Family', 'Context > Family'" in message


def test_a_parent_cell_may_name_a_parent_by_its_path_or_leaf(tmp_path):
    rows = [*ROWS, ("Alliance", "Being heard", "Feeling listened to.", 1),
            ("Context\\Family", "Caring for a parent", "Looking after an ill parent.", 1),
            ("codes\\barriers\\family", "Children", "Children at home.", 1)]  # NVivo root, other case
    cb, _ = _load(_xlsx(tmp_path / "book.xlsx", rows))
    assert cb.parent_of["Being heard"] == "Alliance"
    assert cb.parent_of["Caring for a parent"] == "Context > Family"
    assert cb.parent_of["Children"] == "Barriers > Family"


def test_a_parent_named_twice_must_be_written_as_its_path(tmp_path):
    path = _xlsx(tmp_path / "book.xlsx", [*ROWS, ("Family", "Caring for a parent", "Looking after a parent.", 1)])
    with pytest.raises(InputError, match=r"book\.xlsx:9: code 'Caring for a parent': parent 'Family' could be any "
                                         r"of 'Context > Family', 'Barriers > Family': write its path"):
        load_codebook(path)


def test_a_parent_without_a_row_becomes_a_heading_and_a_near_miss_is_pointed_out(tmp_path):
    rows = [(None, "Mechanisms", "Why it works.", 1), ("Mechanisms", "Alliance", "Rapport.", 1),
            ("Mechanisims", "Trust", "Trust in the therapist.", 1)]
    cb, said = _load(_xlsx(tmp_path / "book.xlsx", rows))
    assert cb.parent_of["Trust"] == "Mechanisims" and cb.parent_of["Mechanisims"] is None
    assert not cb["Mechanisims"].codable and cb["Mechanisms"].codable
    assert any("headings that are never assigned: 'Mechanisims' (did you mean 'Mechanisms'?)" in m for m in said)


def test_parent_cycles_and_duplicates_under_one_parent_are_errors(tmp_path):
    cycle = tmp_path / "cycle.csv"
    cycle.write_text("name,description,parent\nA,x,C\nB,y,A\nC,z,B\n", encoding="utf-8")
    with pytest.raises(InputError, match="parent cycle"):
        load_codebook(cycle)
    itself = tmp_path / "itself.csv"
    itself.write_text("name,description,parent\nA,x,A\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"itself\.csv:2: code 'A': parent cycle"):
        load_codebook(itself)
    twice = tmp_path / "twice.csv"
    twice.write_text("name,description,parent\nContext,x,\nFamily,y,Context\nFamily,z,Context\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"twice\.csv:4: code 'Family': duplicate name"):
        load_codebook(twice)


def test_a_codebook_psythemes_wrote_reads_back_without_a_word(tmp_path):
    cb, _ = _load(_xlsx(tmp_path / "book.xlsx", ROWS))
    written = save_codebook(cb, tmp_path / "again.csv")
    again, said = _load(written)
    assert again.codes == cb.codes
    assert said == []  # every parent has its row and every name is unique: nothing to say


def test_gold_at_a_heading_is_named_as_such_and_never_trained_or_scored(tmp_path):
    """A stranger's revised codebook made 'Emotional Burden' a heading over 'Guilt' and 'Stress'.
    Gold still coded at the heading: extract scored the heading as a code of its own (mean kappa
    0.24, no warning) and train learned a class for it that map then assigned."""
    import pandas as pd

    from psythemes.codebook import codebook_from_dict
    from psythemes.mapping import FewShotMapper
    from psythemes.tables import clean_gold

    book = codebook_from_dict({"codes": [
        {"name": "Emotional Burden", "definition": "Feelings.", "codable": False, "children": [
            {"name": "Guilt", "definition": "Feeling guilty."}, {"name": "Stress", "definition": "Feeling stressed."}]},
        {"name": "Work & Money", "definition": "Jobs and income."}]})
    assert book.codable_names == ["Guilt", "Stress", "Work & Money"] and book.heading_names == ["Emotional Burden"]
    gold = pd.DataFrame({"doc_id": ["d", "d"], "start": [0, 10], "end": [5, 15], "code": ["guilt", "emotional burden"],
                         "coder": ["A", "A"]})
    with pytest.raises(InputError, match=r"'emotional burden' is a heading of the codebook \('Emotional Burden': it "
                                         r"groups other codes and is never assigned\)"):
        clean_gold(gold, book)
    assert clean_gold(gold.iloc[:1], book)["code"].tolist() == ["Guilt"]
    segments = pd.DataFrame({"doc_id": ["d"] * 4, "segment_id": [f"d:{i}" for i in range(4)],
                             "start": [0, 10, 20, 30], "end": [5, 15, 25, 35],
                             "text": ["I felt so guilty", "the money ran out", "guilty again, always", "lost my job"]})
    with pytest.raises(InputError, match="is a heading of the codebook"):
        FewShotMapper(book).fit(segments, ["Guilt", "Emotional Burden", "Work & Money", "Guilt"])
    # a code the gold never gives: said, as the mapper will never assign it
    with pytest.warns(PsythemesWarning, match=r"1 code\(s\) of the codebook have no gold example and will never be "
                                              r"assigned by this mapper: Stress"):
        FewShotMapper(book).fit(segments, ["Guilt", "Work & Money", "Guilt", "Work & Money"])
