"""The review sheet (issue #17): suggestions out as .xlsx/.csv, decisions back in as gold."""

from __future__ import annotations

import pandas as pd
import pytest

from psythemes.cli import main
from psythemes.errors import InputError, PsythemesWarning
from psythemes.review import REVIEW_COLUMNS, load_run, read_review, review_run, review_table, write_review_sheet

openpyxl = pytest.importorskip("openpyxl")

TEXT = ("Interviewer: How did the sessions go?\n"
        "P01: She really listened to me. =SUM(A1:A9) is what I thought of my old GP.\n"
        "Interviewer: And your body?\n"
        "P01: I felt my shoulders drop.\n")
CODES = ["alliance", "awareness", "alternation", "common_ground"]


@pytest.fixture()
def run_dir(tmp_path):
    return make_run(tmp_path)


def make_run(tmp_path):
    """A minimal extract output folder (what 'psythemes review' reads), written by hand."""
    from psythemes.codebook import Code, Codebook, save_codebook
    from psythemes.io import parse_labelled_text, write_transcripts_jsonl
    from psythemes.schema import Transcript, make_segment_id

    turns = parse_labelled_text(TEXT)
    transcript = Transcript("P01-W1", TEXT, turns=turns, metadata={"participant": "P01"})
    out = tmp_path / "run"
    out.mkdir()
    write_transcripts_jsonl(out / "transcripts.jsonl", [transcript])
    seg_rows = []
    for turn in turns:
        if turn.speaker == "P01":
            seg_rows.append({"doc_id": "P01-W1", "segment_id": make_segment_id("P01-W1", turn.start, turn.end),
                             "speaker": "P01", "role": "patient", "start": turn.start, "end": turn.end,
                             "text": TEXT[turn.start:turn.end], "t_start": "", "t_end": ""})
    segs = pd.DataFrame(seg_rows)
    segs.to_csv(out / "segments.csv", index=False)
    a, b = seg_rows
    codes = pd.DataFrame([
        (a["doc_id"], a["segment_id"], a["start"], a["end"], "alliance", 0.71, "zero-shot", "I feel heard."),
        (a["doc_id"], a["segment_id"], a["start"], a["end"], "common_ground", 0.40, "zero-shot", "We agreed."),
        (b["doc_id"], b["segment_id"], b["start"], b["end"], "awareness", 0.66, "zero-shot", "I felt it in my neck."),
    ], columns=["doc_id", "segment_id", "start", "end", "code", "score", "method", "evidence"])
    codes.to_csv(out / "codes.csv", index=False)
    save_codebook(Codebook(name="t", codes=tuple(Code(name=c, definition=c) for c in CODES)), out / "codebook.yaml")
    return out


def test_review_sheet_has_one_row_per_suggestion_with_context(run_dir, tmp_path):
    info = review_run(run_dir, tmp_path / "review.xlsx", reviewer="anna")
    assert info["n_rows"] == 3 and info["n_segments"] == 2
    wb = openpyxl.load_workbook(tmp_path / "review.xlsx")
    ws = wb["review"]
    header = [c.value for c in ws[1]]
    assert header == REVIEW_COLUMNS
    rows = [dict(zip(header, (c.value for c in r), strict=False)) for r in ws.iter_rows(min_row=2)]
    assert [r["suggested_code"] for r in rows] == ["alliance", "common_ground", "awareness"]
    assert rows[0]["turn_before"] == "Interviewer: How did the sessions go?"
    assert rows[2]["turn_before"] == "Interviewer: And your body?"
    assert rows[0]["speaker"] == "P01" and rows[0]["score"] == 0.71 and rows[0]["evidence"] == "I feel heard."
    assert rows[0]["reviewer"] == "anna"
    # segment text that looks like a formula stays text
    assert ws.cell(2, REVIEW_COLUMNS.index("text") + 1).data_type == "s"
    assert ws.freeze_panes == "A2"
    assert ws.cell(2, REVIEW_COLUMNS.index("text") + 1).alignment.wrap_text
    assert ws.column_dimensions["F"].width >= 40
    (validation,) = ws.data_validations.dataValidation
    assert validation.type == "list" and "codes!" in validation.formula1
    listed = [r[0].value for r in wb["codes"].iter_rows()]
    assert listed == ["accept", "reject", *CODES]
    # the CSV copy: UTF-8 with a byte-order mark, same rows
    raw = (tmp_path / "review.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert len(pd.read_csv(tmp_path / "review.csv", encoding="utf-8-sig")) == 3


def _fill(path, decisions, **extra):
    wb = openpyxl.load_workbook(path)
    ws = wb["review"]
    col = REVIEW_COLUMNS.index("decision") + 1
    for row, value in decisions.items():
        ws.cell(row, col, value)
    for (row, name), value in extra.items():
        ws.cell(row, REVIEW_COLUMNS.index(name) + 1, value)
    wb.save(path)


def test_filled_sheet_reads_back_as_gold_with_reviewer(run_dir, tmp_path):
    from psythemes.evaluate import load_gold

    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet, reviewer="anna")
    # accept alliance, reject common_ground, replace awareness by alternation
    _fill(sheet, {2: "accept", 3: "Reject", 4: "alternation"})
    got = read_review(sheet, codes=CODES)
    assert got.n_rows == 3 and got.n_undecided == 0
    assert sorted(got.gold["code"]) == ["alliance", "alternation"]
    assert set(got.gold["coder"]) == {"anna"}
    assert len(got.reviewed) == 2
    gold = load_gold(sheet, codes=CODES)
    assert sorted(gold["code"]) == ["alliance", "alternation"]


def test_review_gold_mixes_with_csv_gold(run_dir, tmp_path):
    from psythemes.evaluate import load_gold

    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet, reviewer="anna")
    _fill(sheet, {2: "accept"})
    csv_gold = tmp_path / "gold.csv"
    csv_gold.write_text("doc_id,start,end,code,coder\nP01-W1,44,74,alliance,B\n")
    gold = load_gold([sheet, csv_gold], codes=CODES)
    assert set(gold["coder"]) == {"anna", "B"}


def test_hostile_cells(run_dir, tmp_path):
    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet)
    wb = openpyxl.load_workbook(sheet)
    ws = wb["review"]
    dec = REVIEW_COLUMNS.index("decision") + 1
    ws.cell(2, dec, "accept")
    # merged decision cells: the value applies to both rows
    ws.cell(3, dec, "reject")
    ws.merge_cells(start_row=3, start_column=dec, end_row=4, end_column=dec)
    # empty rows and a note typed below the table are skipped
    ws.cell(7, 2, None)
    ws.cell(9, REVIEW_COLUMNS.index("memo") + 1, "checked on Monday")
    wb.properties.lastModifiedBy = "Dr Ruiz"
    wb.save(sheet)
    got = read_review(sheet, codes=CODES)
    assert got.n_rows == 3 and got.n_undecided == 0
    assert list(got.gold["code"]) == ["alliance"]
    assert set(got.reviewed["coder"]) == {"Dr Ruiz"}  # the workbook's last editor when the column is empty
    assert sorted(map(len, got.reviewed["codes"])) == [0, 1]


def test_formula_without_saved_value_is_an_error(run_dir, tmp_path):
    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet, reviewer="anna")
    _fill(sheet, {2: '=IF(1>0,"accept","reject")'})
    with pytest.raises(InputError, match=r"review.xlsx:2: decision cell holds a formula"):
        read_review(sheet, codes=CODES)


def test_unknown_code_names_the_row(run_dir, tmp_path):
    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet, reviewer="anna")
    _fill(sheet, {2: "accept", 4: "body_awareness"})
    with pytest.raises(InputError, match=r"review.xlsx:4: decision code 'body_awareness' is not in the codebook "
                                         r"\(did you mean 'awareness'\?\); codes: alliance, awareness"):
        read_review(sheet, codes=CODES)


def test_missing_reviewer_is_guessed_with_a_warning(run_dir, tmp_path):
    sheet = tmp_path / "review.csv"
    review_run(run_dir, sheet)
    table = pd.read_csv(sheet, encoding="utf-8-sig", keep_default_na=False)
    table.loc[0, "decision"] = "yes"
    table.loc[1, "decision"] = "alliance; awareness"
    table.to_csv(sheet, index=False, encoding="utf-8-sig")
    with pytest.warns(PsythemesWarning, match="no reviewer name"):
        got = read_review(sheet, codes=CODES)
    assert sorted(got.gold["code"]) == ["alliance", "awareness"]  # same segment: accept + named codes
    assert set(got.gold["coder"]) == {"reviewer"}


def test_csv_cells_are_not_formulas(run_dir, tmp_path):
    run = load_run(run_dir)
    table = review_table(run)
    table.loc[0, "memo"] = "=HYPERLINK(\"http://x\")"
    write_review_sheet(table, tmp_path / "r.csv", codes=CODES)
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text


def test_not_a_review_sheet(tmp_path):
    bad = tmp_path / "x.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["a", "b"])
    wb.save(bad)
    with pytest.raises(InputError, match="not a review sheet"):
        read_review(bad)
    (tmp_path / "y.xlsx").write_text("not a zip")
    with pytest.raises(InputError, match="cannot read"):
        read_review(tmp_path / "y.xlsx")


def test_cli_review(run_dir, tmp_path, capsys):
    rc = main(["review", str(run_dir), "--out", str(tmp_path / "r.xlsx"), "--reviewer", "anna"])
    assert rc == 0
    assert "3 suggestions on 2 segments" in capsys.readouterr().out
    rc = main(["review", str(tmp_path), "--out", str(tmp_path / "r2.xlsx")])
    assert rc == 2
    assert "run folder lacks" in capsys.readouterr().err


def test_training_rows_are_the_reviewed_segments(run_dir, tmp_path):
    """A sheet labels the segments decided on; a gold CSV beside it labels its whole documents."""
    from psythemes.evaluate import load_gold
    from psythemes.io import read_segments
    from psythemes.review import reviewed_rows

    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet, reviewer="anna")
    _fill(sheet, {4: "reject"})  # only the second segment decided, and nothing kept
    gold = load_gold(sheet, codes=CODES)
    assert gold.empty and len(gold.attrs["reviewed_spans"]) == 1
    segments = read_segments(run_dir / "segments.csv")
    assert list(reviewed_rows(segments, gold.attrs["reviewed_spans"])) == [1]
    csv_gold = tmp_path / "gold.csv"
    csv_gold.write_text("doc_id,start,end,code,coder\nOTHER,0,5,alliance,B\n")
    both = load_gold([sheet, csv_gold], codes=CODES)
    assert both.attrs["full_docs"] == ["OTHER"] and len(both.attrs["reviewed_spans"]) == 1


def test_evaluate_counts_only_reviewed_units(run_dir, tmp_path):
    from psythemes.evaluate import evaluate, load_gold
    from psythemes.io import read_segments

    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet, reviewer="anna")
    _fill(sheet, {2: "accept"})  # only the first segment decided
    codes = pd.read_csv(run_dir / "codes.csv")
    with pytest.warns(PsythemesWarning, match="1 unit.s. without a review decision"):
        result = evaluate(codes, load_gold(sheet, codes=CODES), read_segments(run_dir / "segments.csv"), n_boot=0)
    assert result.summary["n_units"] == 1


def test_a_reviewer_beside_a_full_coder_is_unknown_where_undecided(run_dir, tmp_path):
    # a reviewer who stopped half-way, beside a coder of whole documents: the undecided segments
    # counted as the reviewer saying "no code" (a stranger's test: human kappa 1.000 -> 0.787)
    from psythemes.evaluate import evaluate, load_gold
    from psythemes.io import read_segments

    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet, reviewer="anna")
    _fill(sheet, {2: "accept"})  # the first segment decided, the second not
    segments = read_segments(run_dir / "segments.csv")
    second = segments.iloc[1]
    csv_gold = tmp_path / "gold.csv"
    csv_gold.write_text(f"doc_id,start,end,code,coder\nP01-W1,44,74,alliance,B\n"
                        f"P01-W1,{second['start']},{second['end']},awareness,B\n")
    result = evaluate(pd.read_csv(run_dir / "codes.csv"), load_gold([sheet, csv_gold], codes=CODES), segments,
                      codes=CODES, n_boot=0)
    units = result.units.set_index("segment_id")
    assert units.loc[second["segment_id"], "coded_by"] == "B"  # anna: unknown there, not "no code"
    assert units.loc[second["segment_id"], "gold"] == "awareness"
    assert units.loc[segments.iloc[0]["segment_id"], "coded_by"] == "B;anna"
    assert units.loc[segments.iloc[0]["segment_id"], "coder:anna"] == "alliance"


def test_a_reviewer_who_also_codes_whole_documents_keeps_them(run_dir, tmp_path):
    # reviewer "anna" (a sheet) is "Anna" of a span CSV: her CSV-coded document kept only the
    # sheet's spans, and its codes were lost ("coded_by ''")
    from psythemes.evaluate import evaluate, load_gold
    from psythemes.io import read_segments

    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet, reviewer="anna")
    _fill(sheet, {2: "accept"})
    segments = read_segments(run_dir / "segments.csv")
    second = segments.iloc[1]
    csv_gold = tmp_path / "gold.csv"
    csv_gold.write_text(f"doc_id,start,end,code,coder\nP01-W1,{second['start']},{second['end']},awareness,Anna\n")
    with pytest.warns(PsythemesWarning, match="one coder"):
        result = evaluate(pd.read_csv(run_dir / "codes.csv"), load_gold([sheet, csv_gold], codes=CODES), segments,
                          codes=CODES, n_boot=0)
    units = result.units.set_index("segment_id")
    assert units.loc[second["segment_id"], "gold"] == "awareness"


def test_xlsx_sheet_cuts_long_cells_like_results_xlsx(tmp_path, monkeypatch):
    """One cut at Excel's cell limit (workbook.excel_text): ends in "…" where openpyxl would cut silently."""
    import openpyxl

    from psythemes import workbook

    monkeypatch.setattr(workbook, "MAX_CELL_CHARS", 12)
    row = dict.fromkeys(REVIEW_COLUMNS, "")
    row.update({"doc_id": "a", "start": 0, "end": 40, "text": "a segment of forty characters, near-ish!", "score": 0.5,
                "suggested_code": "alliance", "segment_id": "a:0-40"})
    path = write_review_sheet(pd.DataFrame([row], columns=REVIEW_COLUMNS), tmp_path / "r.xlsx", codes=CODES)
    sheet = openpyxl.load_workbook(path)["review"]
    text = sheet.cell(2, REVIEW_COLUMNS.index("text") + 1).value
    assert text == workbook.excel_text(row["text"]) == "a segment o…"
