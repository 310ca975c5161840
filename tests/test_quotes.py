"""Gold codes given as quotes (MAXQDA coded segments, ATLAS.ti quotations, a team's spreadsheet)."""

from __future__ import annotations

import pandas as pd
import pytest

from psythemes.cli import main
from psythemes.errors import InputError, PsythemesWarning
from psythemes.quotes import locate_quote, quotes_to_spans
from psythemes.tables import read_gold

TEXT = ("INTERVIEWER\tWhat changed for you?\n"
        "RESPONDENT 1\tShe really listened. I felt taken seriously for the first time in years.\n"
        "INTERVIEWER\tAnd the exercises?\n"
        "RESPONDENT 1\tWe would talk a bit, then do a breathing exercise,\nthen talk about what came up. "
        "She really listened.\n")


def test_exact_loose_and_elided_quotes_are_found():
    exact = locate_quote(TEXT, "I felt taken seriously")
    assert TEXT[exact.start:exact.end] == "I felt taken seriously" and exact.how == "exact"
    # a copy from Word: curly quotes, another case, a line break become plain
    loose = locate_quote(TEXT, "“we would TALK a bit, then do a breathing exercise, then talk”")
    assert loose.how == "loose"
    assert TEXT[loose.start:loose.end] == "We would talk a bit, then do a breathing exercise,\nthen talk"
    elided = locate_quote(TEXT, "We would talk a bit [...] what came up")
    assert elided.how == "elided" and TEXT[elided.start:elided.end].endswith("what came up")
    assert TEXT[elided.start:elided.end].startswith("We would talk")
    assert locate_quote(TEXT, "not said by anyone") is None


def test_a_quote_said_twice_is_taken_after_the_previous_one():
    first = locate_quote(TEXT, "She really listened.")
    assert first.occurrences == 2 and first.start == TEXT.index("She really listened.")
    later = locate_quote(TEXT, "She really listened.", after=TEXT.index("We would"))
    assert later.start == TEXT.rindex("She really listened.")


def test_a_maxqda_coded_segments_table_becomes_gold_spans(tmp_path, monkeypatch):
    path = tmp_path / "Coded segments.csv"
    path.write_text("Color,Document group,Document name,Code,Beginning,End,Segment,Created by\n"
                    "#ff0000,Wave 1,P01.docx,Mechanisms\\Alliance,2,2,I felt taken seriously,AB\n"
                    "#00ff00,Wave 1,P01.docx,Mechanisms > Alternation,4,5,"
                    "\"we would talk a bit, then do a breathing exercise, then talk\",AB\n"
                    "#00ff00,Wave 1,P01.docx,Alliance,2,2,a sentence nobody said,AB\n"
                    "#00ff00,Wave 1,P09.docx,Alliance,2,2,another document,AB\n", encoding="utf-8")
    monkeypatch.setenv("PSYTHEMES_VERBOSE", "1")  # quotes are transcript text: named only when asked
    with pytest.warns(PsythemesWarning, match=r"gold given as quotes: 2 found .*1 exactly, 1 ignoring case.*"
                                              r"1 not found and dropped, e\.g\. in P01: 'a sentence nobody said'.*"
                                              r"1 name documents not among the transcripts.*P09\.docx"):
        gold = read_gold(path, codes=["Alliance", "Alternation"], texts={"P01": TEXT})
    monkeypatch.delenv("PSYTHEMES_VERBOSE")
    with pytest.warns(PsythemesWarning, match=r"1 not found and dropped, e\.g\. in P01;") as record:
        read_gold(path, codes=["Alliance", "Alternation"], texts={"P01": TEXT})
    assert not any("nobody said" in str(w.message) for w in record)
    assert gold[["doc_id", "code", "coder"]].values.tolist() == [["P01", "Alliance", "AB"],
                                                                  ["P01", "Alternation", "AB"]]
    start, end = gold.loc[0, ["start", "end"]]
    assert TEXT[start:end] == "I felt taken seriously"


def test_an_atlas_ti_quotation_workbook_with_several_codes_per_quote(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in (["ID", "Quotation Name", "Document", "Codes", "Quotation Content"],
                ["1:1", "She really...", "P01", "Alliance\nAwareness", "She really listened. I felt taken"]):
        book.active.append(row)
    path = tmp_path / "quotations.xlsx"
    book.save(path)
    with pytest.warns(PsythemesWarning, match="2 found|1 found"):
        gold = read_gold(path, codes=["Alliance", "Awareness"], texts=lambda: {"P01": TEXT})
    assert sorted(gold["code"]) == ["Alliance", "Awareness"] and set(gold["coder"]) == {"gold"}
    assert {TEXT[s:e] for s, e in zip(gold["start"], gold["end"], strict=True)} == {
        "She really listened. I felt taken"}


def test_quotes_without_transcripts_are_a_clear_error(tmp_path):
    path = tmp_path / "quotes.csv"
    path.write_text("document,code,quote\nP01,Alliance,I felt taken seriously\n", encoding="utf-8")
    with pytest.raises(InputError, match="quotes without start/end offsets; psythemes finds them in the transcripts"):
        read_gold(path, codes=["Alliance"])
    with pytest.raises(InputError, match="no quote of the gold table was found"):
        read_gold(path, codes=["Alliance"], texts={"P01": "Something else entirely."})
    neither = tmp_path / "neither.csv"
    neither.write_text("doc_id,code\nP01,Alliance\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"lacks column\(s\) start, end .*a document, a code and a quote column"):
        read_gold(neither, codes=["Alliance"], texts={"P01": TEXT})


def test_evaluate_command_reads_a_table_of_quotes(data_dir, tmp_path, capsys):
    """Without transcripts.jsonl beside the segments, quotes are found in the segments' own texts."""
    folder = data_dir / "agreement"
    quotes = tmp_path / "quotes.csv"
    quotes.write_text("Document,Code,Quotation\nd1,awareness,my shoulders were up\n"
                      "d1,alliance,the therapist and I worked out\n", encoding="utf-8")
    rc = main(["evaluate", "--pred", str(folder / "codes.csv"), "--gold", str(quotes),
               "--segments", str(folder / "segments.csv"), "--out", str(tmp_path / "eval"), "--n-boot", "0"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "gold given as quotes: 2 found in the transcripts (2 exactly" in captured.err


def test_a_sentence_said_twice_and_quoted_twice_is_two_passages():
    """A stranger's quote table: two copies of one sentence both landed on the first (then removed as
    duplicates), and a sentence said again after a longer quote holding it landed inside that quote."""
    text = ("A: You go home thinking about it. B: Yes. A: You go home thinking about it. "
            "To be fair, I don't see myself here. I don't see myself here.")
    frame = pd.DataFrame({"document": ["d"] * 5, "code": ["Worry", "Worry", "Sleep", "Leaving", "Leaving"],
                          "quote": ["You go home thinking about it.", "You go home thinking about it.",
                                    "you go home thinking about it", "To be fair, I don't see myself here.",
                                    "I don't see myself here."]})
    with pytest.warns(PsythemesWarning):
        spans = quotes_to_spans(frame, {"d": text})
    first, second = text.find("You go"), text.rfind("You go")
    assert spans[["start", "code"]].values.tolist() == [
        [first, "Worry"], [second, "Worry"],
        [second, "Sleep"],  # another code on a copy already quoted: the same passage, coded twice
        [text.find("To be fair"), "Leaving"], [text.rfind("I don't"), "Leaving"]]
    # two coders quoting one sentence with one code agree on one passage (each is her own coder)
    frame = pd.DataFrame({"document": ["d", "d"], "code": ["Worry", "Worry"], "coder": ["anna", "ben"],
                          "quote": ["You go home thinking about it."] * 2})
    with pytest.warns(PsythemesWarning):
        spans = quotes_to_spans(frame, {"d": text})
    assert spans["start"].tolist() == [first, first]

