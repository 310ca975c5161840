"""Gold code labels find their codes as the codebook readers name them (docs/codebook.md, docs/agreement.md).

Gold exported from MAXQDA or NVivo writes a subcode as its path (``Context\\Family``,
``Codes\\\\Mechanisms\\\\Awareness``); the codebook reader names a code by its last part, or by its
path where two codes share the last part.  Fixtures imitate those exports: semicolon-delimited
CSV with a byte-order mark, as Excel saves "CSV" in many locales.
"""

from __future__ import annotations

import warnings

import pytest

from psythemes.codebook import load_codebook, resolve_code_names
from psythemes.errors import InputError, PsythemesWarning
from psythemes.tables import read_gold

CODEBOOK = ("\ufeffCode;Code memo;Coded segments of all documents;Color\n"
            "Mechanisms;;2;#FF0000\n"
            "Mechanisms\\Awareness;Awareness of the interaction between body and mind.;2;#FF0000\n"
            "Mechanisms\\Alliance;Rapport with the therapist.;2;#FF0000\n"
            "Mechanisms\\Alliance\\Trust;Explicit statements of trust in the therapist.;2;#FF0000\n"
            "Context\\Family;Family circumstances mentioned as context.;2;#FF0000\n"
            "Context\\Work;;2;#FF0000\n"
            "Barriers\\Family;Family obligations as a barrier.;2;#FF0000\n")
TEXT = ("I: How was it?\nP: We talked about my mother who is ill. And I trusted the therapist. "
        "Sometimes the homework was too much with the kids. I noticed my shoulders go up.\n")


@pytest.fixture()
def book(tmp_path):
    path = tmp_path / "maxqda_codes.csv"
    path.write_text(CODEBOOK, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsythemesWarning)
        return load_codebook(path)


def _read(path, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gold = read_gold(path, **kwargs)
    return gold, [str(w.message) for w in caught if issubclass(w.category, PsythemesWarning)]


def test_gold_written_as_code_paths_finds_the_codebook_codes(tmp_path, book):
    assert "Context > Family" in book.names and "Trust" in book.names
    gold_path = tmp_path / "gold.csv"
    gold_path.write_text("\ufeffdoc_id;start;end;code;coder\n"
                         "P01;3;20;Context\\Family;KL\n"
                         "P01;20;40;Barriers\\Family;KL\n"
                         "P01;40;60;Mechanisms\\Alliance\\Trust;KL\n"
                         "P01;60;80;Codes\\\\Mechanisms\\\\Awareness;KL\n"
                         "P01;80;90;Trust;RB\n"
                         "P01;90;99;Barriers > Family;RB\n", encoding="utf-8")
    gold, said = _read(gold_path, codes=book.names)
    assert gold["code"].tolist() == ["Context > Family", "Barriers > Family", "Trust", "Awareness", "Trust",
                                     "Barriers > Family"]
    assert gold["coder"].tolist() == ["KL"] * 4 + ["RB"] * 2
    assert not any("spelt otherwise" in m for m in said)  # written as the export writes them: nothing guessed


def test_a_leaf_alone_matches_only_when_one_path_ends_with_it(tmp_path, book):
    assert resolve_code_names(["Family", "family"], ["Context > Family", "Work"]) == {
        "Family": "Context > Family", "family": "Context > Family"}
    gold_path = tmp_path / "gold.csv"
    gold_path.write_text("doc_id,start,end,code\nP01,0,10,Family\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"gold\.csv:2: gold code 'Family' could be any of 'Context > Family', "
                                         r"'Barriers > Family': write the code's path"):
        read_gold(gold_path, codes=book.names)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("doc_id,start,end,code\nP01,0,10,Context\\Time\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"gold code 'Context\\Time' is not in the codebook"):
        read_gold(wrong, codes=book.names)


def test_gold_labels_matched_by_a_guess_are_named_in_one_warning(tmp_path):
    names = ["Trust – therapist", "Body::Signals", "Explanation (shared)", "Homework", "Scepticism"]
    gold_path = tmp_path / "gold_spans.csv"
    gold_path.write_text("doc_id,start,end,code,coder\n"
                         "P02,420,573,trust – THERAPIST,RB\n"
                         "P06,321,439,BODY::SIGNALS,RB\n"
                         "P04,990,1122,explanation (shared),RB\n"
                         "P04,990,1122,HOMEWORK,RB\n"
                         "P04,10,50,scepticism,RB\n"
                         "P02,420,573,Trust – therapist,KL\n", encoding="utf-8")
    gold, said = _read(gold_path, codes=names)
    assert set(gold["code"]) == set(names)
    [notice] = [m for m in said if "spelt otherwise" in m]
    assert notice.startswith("gold_spans.csv: 5 gold code label(s) are spelt otherwise than the code they were "
                             "matched to")
    assert "gold 'trust – THERAPIST' taken as code 'Trust – therapist'" in notice
    assert notice.endswith("and 2 more")


def test_a_semicolon_coded_segments_export_is_read_as_gold(tmp_path, book):
    """MAXQDA's Coded Segments export, saved by Excel with ';': the quotes are found in the transcript."""
    gold_path = tmp_path / "gold_maxqda_coded_segments.csv"
    gold_path.write_text("\ufeffColor;Document group;Document name;Code;Begin;End;Segment;Created by\n"
                         "#ff0000;Interviews;P01;Mechanisms\\Alliance\\Trust;1;1;And I trusted the therapist.;KL\n"
                         "#ff0000;Interviews;P01.txt;Mechanisms\\Awareness;2;2;"
                         "I noticed my shoulders go up.;KL\n", encoding="utf-8")
    gold, _ = _read(gold_path, codes=book.names, texts={"P01": TEXT})
    assert gold["code"].tolist() == ["Trust", "Awareness"]
    assert [TEXT[s:e] for s, e in zip(gold["start"], gold["end"], strict=True)] == [
        "And I trusted the therapist.", "I noticed my shoulders go up."]


def test_a_coded_segments_export_tells_apart_codes_of_one_name(tmp_path, book):
    gold_path = tmp_path / "gold_maxqda_coded_segments.csv"
    gold_path.write_text("Document name,Code,Segment,Created by\n"
                         "P01,Context\\Family,We talked about my mother who is ill.,KL\n"
                         "P01,Barriers\\Family,Sometimes the homework was too much with the kids.,KL\n",
                         encoding="utf-8")
    gold, _ = _read(gold_path, codes=book.names, texts={"P01": TEXT})
    assert gold["code"].tolist() == ["Context > Family", "Barriers > Family"]


def test_gold_files_without_a_coder_are_coders_named_after_their_files(tmp_path):
    # two coders' files without a coder column were one coder "gold" (beside the consensus
    # column "gold" as "coder:gold", and a "machine-vs-gold" row that meant one of them)
    ana = tmp_path / "ana.csv"
    ana.write_text("doc_id,start,end,code\nd,0,5,a\n", encoding="utf-8")
    cleo = tmp_path / "cleo_quotes.csv"
    cleo.write_text("doc_id,start,end,code\nd,0,5,a\nd,6,9,b\n", encoding="utf-8")
    with pytest.warns(PsythemesWarning, match=r"named after its file: ana.csv -> 'ana'; cleo_quotes.csv -> "
                                              r"'cleo_quotes'"):
        gold = read_gold([ana, cleo])
    assert gold["coder"].tolist() == ["ana", "cleo_quotes", "cleo_quotes"]
    with warnings.catch_warnings():  # one file: the one coder keeps the name "gold"
        warnings.simplefilter("error", PsythemesWarning)
        assert set(read_gold(ana)["coder"]) == {"gold"}
    # one coder's codes in a file per transcript (no document in two files) stay one coder
    p02 = tmp_path / "P02_codes.csv"
    p02.write_text("doc_id,start,end,code\ne,0,5,a\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)
        assert set(read_gold([ana, p02])["coder"]) == {"gold"}
    # beside a named coder, one file without coders is a coder of its own, named after the file
    ben = tmp_path / "ben.csv"
    ben.write_text("doc_id,start,end,code,coder\ne,0,5,a,Ben\n", encoding="utf-8")
    with pytest.warns(PsythemesWarning, match="named after its file: ana.csv -> 'ana'"):
        assert set(read_gold([ben, ana])["coder"]) == {"Ben", "ana"}


def test_coder_names_that_differ_only_in_case_are_one_coder(tmp_path):
    gold = tmp_path / "gold.csv"
    gold.write_text("doc_id,start,end,code,coder\nd,0,5,a,Ana\nd,6,9,b,Ana\ne,0,5,a,ana \ne,0,5,b,Ben\n",
                    encoding="utf-8")
    with pytest.warns(PsythemesWarning, match=r"differ only in case or spaces are one coder: 'ana' -> 'Ana'"):
        frame = read_gold(gold)
    assert frame["coder"].tolist() == ["Ana", "Ana", "Ana", "Ben"]


def test_span_gold_naming_documents_by_file_name_is_matched_by_stem():
    # a span CSV with "P01.txt" was "no unit lies in a document that has gold codes", while tables
    # of quotes and metadata accepted the file name
    import pandas as pd

    from psythemes.evaluate import evaluate

    segments = pd.DataFrame({"doc_id": ["P01", "P01"], "segment_id": ["P01:0-9", "P01:10-19"], "start": [0, 10],
                             "end": [9, 19], "text": ["x", "y"]})
    gold = pd.DataFrame({"doc_id": ["P01.txt"], "start": [0], "end": [9], "code": ["a"], "coder": ["A"]})
    machine = pd.DataFrame({"doc_id": ["P01"], "segment_id": ["P01:0-9"], "start": [0], "end": [9], "code": ["a"],
                            "score": [0.9], "method": ["zero-shot"]})
    with pytest.warns(PsythemesWarning, match=r"1 gold row\(s\) name their document by its file name .*'P01.txt' "
                                              r"-> 'P01'"):
        result = evaluate(machine, gold, segments, n_boot=0)
    assert result.summary["n_units"] == 2 and result.per_code.iloc[0]["tp"] == 1
    with pytest.warns(PsythemesWarning, match="by its file name"):
        assert read_gold_frame(gold, {"P01": 20})["doc_id"].tolist() == ["P01"]


def read_gold_frame(gold, text_lengths):
    from psythemes.tables import clean_gold

    return clean_gold(gold, text_lengths=text_lengths)


def test_a_folder_given_as_gold_is_named_as_a_folder(tmp_path):
    with pytest.raises(InputError, match="is a folder; give the gold codes file"):
        read_gold(tmp_path)


def test_an_nvivo_root_before_a_top_level_code_finds_the_code():
    # "Codes\\Emotional Burden\\Guilt" was found but "Codes\\Support Network" was refused
    names = ["Support Network", "Guilt"]
    labels = ["Codes\\\\Support Network", "Nodes\\support network", "Codes\\\\Emotional Burden\\\\Guilt"]
    got = resolve_code_names(labels, names)
    assert list(got.values()) == ["Support Network", "Support Network", "Guilt"]


def test_every_gold_label_that_matches_no_code_is_named_at_once(tmp_path):
    # a gold file from the previous codebook version named only its first stale code
    gold = tmp_path / "v1_gold.csv"
    gold.write_text("doc_id,start,end,code\nd,0,5,Family Support\nd,6,9,Trust\nd,10,15,Money\nd,16,20,Family Support\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match=r"2 gold code labels match no code of the codebook: 'Family Support' "
                                         r"\(line 2\); 'Money' \(line 4\); the first: gold code 'Family Support' is "
                                         r"not in the codebook") as err:
        read_gold(gold, codes=["Trust", "Financial Strain"])
    assert err.value.path is not None
