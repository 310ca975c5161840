"""Input tables: one validation (shape, unique ids, 0 <= start <= end <= text length, known codes), the row named."""

from __future__ import annotations

import pandas as pd
import pytest

from psythemes.errors import InputError
from psythemes.io import read_metadata, read_segments

SEGMENTS = ("doc_id,segment_id,speaker,role,start,end,text\n"
            "a,a:0-5,P01,patient,0,5,hello\n"
            "a,a:6-11,P01,patient,6,11,there\n")


def _segments(tmp_path, body: str):
    path = tmp_path / "segments.csv"
    path.write_text(body)
    return path


def test_segments_as_written_are_accepted(tmp_path):
    assert len(read_segments(_segments(tmp_path, SEGMENTS))) == 2


@pytest.mark.parametrize("row, message", [
    ("a,a:0-5,P01,patient,0,5,hello", "repeats segment_id='a:0-5' of row 1"),     # duplicate id
    ("a,a:9-4,P01,patient,9,4,hello", "0 <= start <= end"),                        # reversed
    ("a,a:-3-2,P01,patient,-3,2,hello", "0 <= start <= end"),                      # negative
    ("a,a:20-99999,P01,patient,20,99999,hello", "do not belong to this text"),     # huge
    ("a,a:20-26,P01,patient,20,26,hello", "do not belong to this text"),           # shifted by a character
])
def test_bad_segment_rows_are_errors_naming_the_row(tmp_path, row, message):
    with pytest.raises(InputError, match=message) as err:
        read_segments(_segments(tmp_path, SEGMENTS + row + "\n"))
    assert "row 3" in str(err.value)


@pytest.mark.parametrize("row", ["a,a:12-15,P01,patient,12,15,you,extra", "a,a:12-15,P01"])
def test_ragged_segment_rows(tmp_path, row):
    with pytest.raises(InputError, match=r"segments.csv:4: segments table: row has \d fields, the header has 7"):
        read_segments(_segments(tmp_path, SEGMENTS + row + "\n"))


def test_ragged_metadata_row(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text("doc_id,participant\na,P01,extra\n")
    with pytest.raises(InputError, match=r"meta.csv:2: metadata: row has 3 fields, the header has 2"):
        read_metadata(path)


def test_ragged_gold_row(tmp_path):
    from psythemes.evaluate import load_gold

    path = tmp_path / "gold.csv"
    path.write_text("doc_id,start,end,code,coder\na,0,5,alliance\n")
    with pytest.raises(InputError, match=r"gold.csv:2: .*row has 4 fields"):
        load_gold(path)


def test_agree_refuses_duplicate_units_and_ragged_rows(tmp_path, capsys):
    from psythemes.cli import main

    dup = tmp_path / "dup.csv"
    dup.write_text("unit,a,b\n1,x,x\n2,x,y\n1,y,y\n")
    assert main(["agree", str(dup), "--n-boot", "0"]) == 2
    assert "row 3 repeats unit='1' of row 1" in capsys.readouterr().err
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("unit,a,b\n1,x,x\n2,x\n")
    assert main(["agree", str(ragged), "--n-boot", "0"]) == 2
    assert "ragged.csv:3: ratings table: row has 2 fields" in capsys.readouterr().err


def test_gold_from_a_project_with_codes_outside_the_codebook(tmp_path):
    from psythemes.codebook import load_codebook
    from psythemes.pipeline import _load_gold
    from psythemes.schema import Transcript

    book = load_codebook("psychosomatic")
    transcripts = [Transcript(doc_id="a", text="hello there, how are you")]
    gold = pd.DataFrame({"doc_id": ["a"], "start": [0], "end": [5], "code": ["not_a_code"], "coder": ["A"]})
    with pytest.raises(InputError, match=r"gold code 'not_a_code' is not in the codebook.* \(row 1\)"):
        _load_gold(gold, None, book, transcripts)


@pytest.mark.parametrize("start, end, message", [(3, 2, r"span \[3, 2\) is empty or negative \(row 1\)"),
                                                 (-1, 4, r"span \[-1, 4\) is empty"),
                                                 (0, 0, r"span \[0, 0\) is empty")])
def test_gold_dataframe_spans_are_checked(start, end, message):
    from psythemes.codebook import load_codebook
    from psythemes.pipeline import _load_gold
    from psythemes.schema import Transcript

    book = load_codebook("psychosomatic")
    gold = pd.DataFrame({"doc_id": ["a"], "start": [start], "end": [end], "code": [book.names[0]], "coder": ["A"]})
    with pytest.raises(InputError, match=message):
        _load_gold(gold, None, book, [Transcript(doc_id="a", text="hello there")])


def test_map_refuses_a_segments_table_with_duplicate_ids(tmp_path, capsys):
    from psythemes.cli import main

    path = _segments(tmp_path, SEGMENTS + "a,a:0-5,P01,patient,0,5,hello\n")
    rc = main(["map", str(path), "--out", str(tmp_path / "out"), "--codebook", "psychosomatic"])
    err = capsys.readouterr().err
    assert rc == 2 and "ids must be unique" in err and "unexpected" not in err
    assert not (tmp_path / "out" / "codes.csv").exists()


# ----------------------------------------------------------------------------- text and options


def test_mixed_encoding_warns_naming_the_lines_and_reads_both(tmp_path):
    from psythemes.errors import PsythemesWarning
    from psythemes.io import read_transcript

    path = tmp_path / "mixed.txt"
    path.write_bytes("P01: Das Café war voll.\n".encode() + "P02: Und die Prüfung?\n".encode("cp1252")
                     + "P01: Schön war es.\n".encode())
    with pytest.warns(PsythemesWarning, match=r"mixed encodings: 1 line\(s\) are not UTF-8 \(read as cp1252: 2\)"):
        doc = read_transcript(path)
    assert "Café" in doc.text and "Prüfung" in doc.text and "Schön" in doc.text and "Ã" not in doc.text


def test_a_whole_cp1252_file_is_not_called_mixed(tmp_path):
    import warnings

    from psythemes.io import read_transcript

    path = tmp_path / "cp.txt"
    path.write_bytes("P01: Das Café war voll.\nP02: Und die Prüfung?\n".encode("cp1252"))
    with warnings.catch_warnings():
        # the guessed encoding is announced; only a "mixed encodings" warning would be wrong here
        warnings.filterwarnings("error", message=".*mixed encodings")
        assert "Prüfung" in read_transcript(path).text


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True])
def test_bad_seed_is_refused_before_any_work(seed, tmp_path):
    from psythemes.pipeline import extract

    with pytest.raises(InputError, match="--seed"):
        extract(tmp_path / "not-read-yet", tmp_path / "out", random_state=seed)
    assert not (tmp_path / "out").exists()


def test_min_topic_size_above_the_segments(tmp_path):
    import numpy as np

    from psythemes.discover import SMALL_CORPUS, ThemeDiscoverer

    n = SMALL_CORPUS + 4  # enough for the default preset (UMAP + HDBSCAN)
    seg = pd.DataFrame({"doc_id": ["a"] * n, "segment_id": [f"a:{i}" for i in range(n)], "text": ["x y z"] * n})
    X = np.random.default_rng(0).normal(size=(n, 8))
    with pytest.raises(InputError, match=f"min_topic_size=500 is more than the {n} segments"):
        ThemeDiscoverer(min_topic_size=500).fit(seg, X)


def test_unknown_spacy_language(tmp_path):
    from psythemes.schema import Transcript, Turn
    from psythemes.segment import segment_transcripts

    doc = Transcript(doc_id="a", text="P01: One. Two.", turns=[Turn(speaker="P01", start=5, end=14)])
    with pytest.raises(InputError, match="unknown spaCy language 'zz'"):
        segment_transcripts([doc], unit="sentence", lang="zz")


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), "nan"])
def test_threshold_must_be_a_finite_number(threshold):
    from psythemes.mapping import _parse_threshold

    with pytest.raises(InputError, match="threshold"):
        _parse_threshold(threshold, ["a", "b"])


def test_training_on_one_segment(tmp_path):
    from psythemes.mapping import FewShotMapper

    path = _segments(tmp_path, SEGMENTS.rsplit("a,a:6", 1)[0])
    with pytest.raises(InputError, match="at least 2 segments"):
        FewShotMapper().fit(read_segments(path), [["alliance"]])


def test_map_checks_themes_before_writing_codes(tmp_path, capsys):
    from psythemes.cli import main

    path = _segments(tmp_path, SEGMENTS)
    rc = main(["map", str(path), "--themes", str(tmp_path / "missing"), "--out", str(tmp_path / "out"),
               "--codebook", "psychosomatic"])
    assert rc == 2 and "lacks this file" in capsys.readouterr().err
    assert not (tmp_path / "out" / "codes.csv").exists()


def test_gold_beyond_the_text_is_dropped_when_the_transcripts_are_known(tmp_path, capsys):
    """A span [0, 99999999) once covered every segment and inflated prevalence in evaluate and train."""
    from psythemes.cli import main

    transcript = tmp_path / "a.txt"
    transcript.write_text("P01: I felt the tension again.\nP02: A long walk helps me.\nP01: The exams worry me.\n")
    assert main(["segment", str(transcript), "--out", str(tmp_path / "seg")]) == 0
    capsys.readouterr()
    gold = tmp_path / "gold.csv"
    gold.write_text("doc_id,start,end,code,coder\na,5,30,alliance,A\na,0,99999999,awareness,A\n")
    segments = read_segments(tmp_path / "seg" / "segments.csv")
    assert segments.attrs["text_lengths"] == {"a": len(transcript.read_text())}
    from psythemes.errors import PsythemesWarning
    from psythemes.evaluate import load_gold

    with pytest.warns(PsythemesWarning, match="1 gold span.*end beyond their document's text and were dropped"):
        table = load_gold(gold, text_lengths=segments.attrs["text_lengths"])
    assert table["code"].tolist() == ["alliance"]


def test_agree_with_a_negative_seed(tmp_path, capsys):
    from psythemes.cli import main

    table = tmp_path / "r.csv"
    table.write_text("unit,a,b\n1,x,x\n2,x,y\n3,y,y\n")
    assert main(["agree", str(table), "--seed", "-1"]) == 2
    assert "--seed" in capsys.readouterr().err


def test_themes_from_stop_words_only(tmp_path):
    import numpy as np

    from psythemes.discover import ThemeDiscoverer

    seg = pd.DataFrame({"doc_id": ["a"] * 4, "segment_id": [f"a:{i}" for i in range(4)],
                        "text": ["How are you?", "And then?", "What about you?", "And so?"]})
    with pytest.raises(InputError, match="no words but stop words"):
        ThemeDiscoverer(preset="fast", n_themes=2).fit(seg, np.random.default_rng(0).normal(size=(4, 8)))
