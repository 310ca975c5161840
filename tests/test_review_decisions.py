"""Reading decision cells: code names with commas, the ';' separator, accept/reject mixed with codes,
code names spelt otherwise (matched as in gold files), and every faulty decision in one error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psythemes.cli import main
from psythemes.errors import InputError, PsythemesWarning
from psythemes.review import read_review, review_run

from test_review import _fill, make_run  # the hand-made run folder and the cell filler

openpyxl = pytest.importorskip("openpyxl")

COMMA = "Work, pacing and daily life"
CODES = ["alliance", "awareness", "alternation", "common_ground", COMMA, "Shared Explanation", "Therapeutic Alliance"]


@pytest.fixture()
def run_dir(tmp_path):
    """The hand-made run, its codebook with a code whose name holds a comma."""
    from psythemes.codebook import Code, Codebook, save_codebook

    run = make_run(tmp_path)
    save_codebook(Codebook(name="t", codes=tuple(Code(name=c, definition=c) for c in CODES)), run / "codebook.yaml")
    return run


@pytest.fixture()
def sheet(run_dir, tmp_path):
    path = tmp_path / "review.xlsx"
    review_run(run_dir, path, reviewer="anna")
    return path


def _codes(path, **kw):
    return sorted(read_review(path, codes=CODES, **kw).gold["code"])


def test_a_code_name_with_a_comma_is_one_code(sheet):
    _fill(sheet, {2: COMMA})
    assert _codes(sheet) == [COMMA]
    _fill(sheet, {2: COMMA.upper()})  # matched whole, case aside, before any splitting
    with pytest.warns(PsythemesWarning, match="taken as code"):
        assert _codes(sheet) == [COMMA]


def test_separators(sheet):
    _fill(sheet, {2: f"{COMMA}; awareness", 3: "reject", 4: "alliance, alternation"})
    got = read_review(sheet, codes=CODES)
    # ';' separates; a ',' only where every piece is a code (sheets filled in before ';' was the one)
    assert sorted(got.gold["code"]) == sorted([COMMA, "awareness", "alliance", "alternation"])
    # without a codebook only ';' separates: a comma may be part of a name
    assert sorted(read_review(sheet).gold["code"]) == sorted([COMMA, "awareness", "alliance, alternation"])


@pytest.mark.parametrize(("cell", "says"), [
    ("reject, awareness", "to replace the suggestion, name only the code(s) that apply instead, e.g. 'awareness'"),
    ("reject; awareness", "to replace the suggestion, name only the code(s) that apply instead, e.g. 'awareness'"),
    ("accept; awareness", "name every code that applies, e.g. 'alliance; awareness'"),
])
def test_accept_or_reject_with_codes_says_what_a_cell_may_hold(sheet, cell, says):
    _fill(sheet, {2: cell})
    with pytest.raises(InputError) as err:
        read_review(sheet, codes=CODES)
    message = str(err.value)
    assert f"review.xlsx:2: decision {cell!r} mixes" in message and says in message
    assert "not in the codebook" not in message  # 'reject' is no code and was never taken for one


def test_labels_are_matched_as_in_gold_files_with_a_warning(sheet, tmp_path):
    from psythemes.evaluate import load_gold

    _fill(sheet, {2: "shared_explanation", 3: "Therapeutic  Alliance", 4: "shared-explanation"})
    with pytest.warns(PsythemesWarning, match=r"decision 'shared_explanation' taken as code 'Shared Explanation'"):
        assert _codes(sheet) == ["Shared Explanation", "Shared Explanation", "Therapeutic Alliance"]
    # the same labels in a gold CSV resolve to the same codes
    gold_csv = tmp_path / "gold.csv"
    gold_csv.write_text("doc_id,start,end,code\nP01-W1,0,5,shared_explanation\nP01-W1,0,5,Therapeutic  Alliance\n"
                        "P01-W1,5,9,shared-explanation\n")
    with pytest.warns(PsythemesWarning):
        from_csv = sorted(load_gold(gold_csv, codes=CODES)["code"])
    with pytest.warns(PsythemesWarning):
        from_sheet = sorted(load_gold(sheet, codes=CODES)["code"])
    assert from_sheet == from_csv


def test_every_faulty_decision_in_one_error(run_dir, tmp_path):
    sheet = tmp_path / "review.csv"
    review_run(run_dir, sheet, reviewer="anna")
    table = pd.read_csv(sheet, encoding="utf-8-sig", keep_default_na=False)
    table = pd.concat([table] * 2, ignore_index=True)  # six rows
    table["decision"] = ["alience", "accept", "Bdy Awareness", "reject, alliance", "zz", "yy"]
    table.to_csv(sheet, index=False, encoding="utf-8-sig")
    with pytest.raises(InputError) as err:
        read_review(sheet, codes=CODES)
    message = str(err.value)
    assert message.startswith(f"{sheet}: 5 decisions cannot be read: line 2: decision code 'alience' is not in the "
                              "codebook (did you mean 'alliance'?); line 4: decision code 'Bdy Awareness'")
    assert "line 5: decision 'reject, alliance' mixes 'reject'" in message
    # up to ten faults are shown, so that one run lists what to fix
    assert "line 6: decision code 'zz'" in message and "line 7: decision code 'yy'" in message
    assert "more fault" not in message and "; codes: alliance, awareness" in message
    # one fault copied down a column is said once, with its lines; more than ten faults are counted
    table["decision"] = ["alience"] * 2 + [f"code{i}" for i in range(4)]
    table = pd.concat([table] + [table.iloc[2:].assign(decision=[f"more{j}{i}" for i in range(4)]) for j in range(3)],
                      ignore_index=True)
    table.to_csv(sheet, index=False, encoding="utf-8-sig")
    with pytest.raises(InputError) as err:
        read_review(sheet, codes=CODES)
    message = str(err.value)
    assert "18 decisions cannot be read: lines 2, 3: decision code 'alience' is not in the codebook" in message
    assert "; and 7 more fault(s) on 7 line(s); codes:" in message


def test_cli_next_reads_a_code_name_with_a_comma(run_dir, tmp_path, monkeypatch, capsys):
    import psythemes.embed as embed_mod

    monkeypatch.setattr(embed_mod.Embedder, "embed_segments",
                        lambda self, segs: np.random.default_rng(0).standard_normal((len(segs), 8)).astype(np.float32))
    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet, reviewer="anna")
    _fill(sheet, {2: COMMA})  # the first segment decided: before, 'Work' was "not in the codebook"
    rc = main(["next", str(run_dir), "--n", "1", "--gold", str(sheet), "--out", str(tmp_path / "next.xlsx")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.out.startswith("1 segments from 1 transcripts")


def test_a_sheet_that_lost_its_suggestions_or_contradicts_itself_is_refused(run_dir, tmp_path):
    """A stranger deleted the suggested_code column: every 'accept' became "no code" without a word."""
    sheet = tmp_path / "review.csv"
    review_run(run_dir, sheet, reviewer="anna")
    table = pd.read_csv(sheet, encoding="utf-8-sig", keep_default_na=False)
    table["decision"] = ["accept", "reject", "awareness"]
    table.drop(columns="suggested_code").to_csv(sheet, index=False, encoding="utf-8-sig")
    with pytest.raises(InputError, match=r"review.csv:2: decision 'accept' accepts the suggestion, but the sheet has "
                                         r"no suggested_code column any more"):
        read_review(sheet, codes=CODES)
    # a row copied and decided the other way: neither is taken silently
    pd.concat([table, table.iloc[[0]].assign(decision="reject")], ignore_index=True).to_csv(
        sheet, index=False, encoding="utf-8-sig")
    with pytest.raises(InputError, match=r"review.csv:5: decides otherwise than line 2 on the same suggestion"):
        read_review(sheet, codes=CODES)
    # the same decision twice is no contradiction
    pd.concat([table, table.iloc[[0]]], ignore_index=True).to_csv(sheet, index=False, encoding="utf-8-sig")
    assert len(read_review(sheet, codes=CODES).gold) == 2


def test_decision_words_other_than_accept_and_reject(run_dir, tmp_path):
    sheet = tmp_path / "review.csv"
    review_run(run_dir, sheet, reviewer="anna")
    table = pd.read_csv(sheet, encoding="utf-8-sig", keep_default_na=False)
    table.assign(decision=["yes", "n", "OK"]).to_csv(sheet, index=False, encoding="utf-8-sig")
    with pytest.warns(PsythemesWarning, match=r"3 decision\(s\) are written with other words than accept and reject, "
                                              r"and taken as: 'yes' as accept \(1\), 'n' as reject \(1\), 'OK' as "
                                              r"accept \(1\)"):
        assert len(read_review(sheet, codes=CODES).gold) == 2
    # 'x' is a tick to some reviewers and a cross to others
    table.assign(decision=["x", "accept", "accept"]).to_csv(sheet, index=False, encoding="utf-8-sig")
    with pytest.raises(InputError, match=r"review.csv:2: decision 'x' may mean accept or reject"):
        read_review(sheet, codes=CODES)


def test_two_codes_joined_by_a_comma_name_the_piece_that_is_no_code(sheet):
    _fill(sheet, {2: "awareness , Therapeutic Aliance"})
    with pytest.raises(InputError) as err:
        read_review(sheet, codes=CODES)
    message = str(err.value)
    assert ("decision code 'Therapeutic Aliance' is not in the codebook (did you mean 'Therapeutic Alliance'?)"
            in message)


def test_a_later_sheet_decides_again_for_the_same_reviewer(run_dir, tmp_path):
    """Two sheets of one reviewer that disagree on a segment were joined: a 'reject' always lost."""
    from psythemes.tables import read_gold

    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    review_run(run_dir, first, reviewer="anna")
    table = pd.read_csv(first, encoding="utf-8-sig", keep_default_na=False)
    table.assign(decision=["accept", "accept", "reject"]).to_csv(first, index=False, encoding="utf-8-sig")
    table.assign(decision=["reject", "accept", ""]).to_csv(second, index=False, encoding="utf-8-sig")
    with pytest.warns(PsythemesWarning, match=r"1 segment\(s\) were decided otherwise in a later review sheet by the "
                                              r"same reviewer; the later sheet's decision is used"):
        gold = read_gold([first, second], codes=CODES)
    assert len(gold) == 1  # the second row's suggestion, accepted in both; the first row's rejected later
    with pytest.warns(PsythemesWarning, match="decided otherwise"):
        assert len(read_gold([second, first], codes=CODES)) == 2  # the other order: the first sheet is later
    # an earlier sheet that rejected everything has no gold rows: read all the same (was a KeyError)
    table.assign(decision=["reject"] * 3).to_csv(first, index=False, encoding="utf-8-sig")
    with pytest.warns(PsythemesWarning, match="decided otherwise"):
        assert len(read_gold([first, second], codes=CODES)) == 1


def test_a_sheet_saved_by_excel_on_windows_is_read_with_the_guess_named(run_dir, tmp_path):
    # it was refused ("not UTF-8") while gold, metadata and codebook CSVs in cp1252 were read
    sheet = tmp_path / "review.csv"
    review_run(run_dir, sheet, reviewer="anna")
    table = pd.read_csv(sheet, encoding="utf-8-sig", keep_default_na=False)
    table.assign(decision=["accept", "reject", "awareness"], memo=["café, naïve", "", "Übung"]).to_csv(
        sheet, index=False, encoding="cp1252")
    with pytest.warns(PsythemesWarning, match="UTF-8"):
        assert sorted(read_review(sheet, codes=CODES).gold["code"]) == ["alliance", "awareness"]


def test_an_empty_sheet_points_to_its_filled_in_copy(run_dir, tmp_path):
    from psythemes.tables import read_gold

    sheet = tmp_path / "review.xlsx"
    review_run(run_dir, sheet, reviewer="anna")  # writes review.csv beside it
    copy = tmp_path / "review.csv"
    table = pd.read_csv(copy, encoding="utf-8-sig", keep_default_na=False)
    table.assign(decision=["accept", "reject", ""]).to_csv(copy, index=False, encoding="utf-8-sig")
    with pytest.raises(InputError, match=r"no decisions yet .*; its copy review.csv holds 2 decision\(s\): give that"):
        read_gold(sheet, codes=CODES)
