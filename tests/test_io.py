"""Readers: a golden example per format, encodings, bad inputs, metadata and speaker roles."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from psythemes import io
from psythemes.errors import InputError, PsythemesWarning
from psythemes.schema import Transcript, Turn

from turn_checks import assert_turn_offsets  # tests/turn_checks.py


def bodies(tr: Transcript) -> list[str]:
    return [tr.text[t.start:t.end] for t in tr.turns]


def speakers(tr: Transcript) -> list[str]:
    return [t.speaker for t in tr.turns]


# --- golden examples ---------------------------------------------------------------------

def test_otter_export(data_dir: Path) -> None:
    tr = io.read_transcript(data_dir / "example_otter.txt")
    assert tr.doc_id == "example_otter" and tr.format == "text"
    assert len(tr.turns) == 17
    assert set(speakers(tr)) == {"Interviewer", "Maria Lopez"}
    assert tr.turns[0].t_start == 2.0 and tr.turns[1].t_start == 9.0 and tr.turns[-1].t_start == 161.0
    # a body line following the header line belongs to the turn; so does a second line
    assert bodies(tr)[1].startswith("Sure. So it started about two years ago")
    assert bodies(tr)[1].endswith("a few days and it's gone.")
    # "My physio said: you are bracing" is not a label
    assert "My physio said: you are bracing all day." in bodies(tr)[5]
    assert bodies(tr)[2] == "Mm-hmm."
    assert_turn_offsets(tr)


def test_labelled_text_with_timestamps_and_continuations(data_dir: Path) -> None:
    tr = io.read_transcript(data_dir / "example_interview.txt")
    assert len(tr.turns) == 14
    assert speakers(tr)[:4] == ["Interviewer", "P3", "Interviewer", "P3"]
    assert [t.t_start for t in tr.turns[:3]] == [5.0, 12.0, None]
    assert tr.turns[4].t_start == 62.0
    # continuation lines stay in the turn
    assert bodies(tr)[1].endswith("even on the weekends.")
    # a blank line inside a turn and "Well: I think" mid-turn stay in the turn
    assert "\n\nBy noon I have to lie down. Well: I think" in bodies(tr)[3]
    # "Note: ..." at the start of a line is not a speaker
    assert "Note: that was something my therapist pointed out" in bodies(tr)[7]
    # the title line before the first label is not a turn
    assert not any("outpatient clinic" in b for b in bodies(tr))
    assert_turn_offsets(tr)


def test_zoom_vtt_merges_consecutive_cues(data_dir: Path) -> None:
    tr = io.read_transcript(data_dir / "example_zoom.vtt")
    assert tr.format == "vtt"
    assert speakers(tr) == ["Dr. Keller", "Sam Patel"] * 5
    # cues 3+4 and 5+6 are one speaker's: one turn each, from first start to last end
    assert bodies(tr)[2] == "Good. Last time you mentioned the fatigue was getting worse. How has this week been?"
    assert (tr.turns[2].t_start, tr.turns[2].t_end) == (7.5, 15.8)
    assert bodies(tr)[3].startswith("Honestly, quite tiring. I slept ten hours on Saturday and still woke up")
    assert (tr.turns[3].t_start, tr.turns[3].t_end) == (16.4, 26.75)
    # the normalised text has one "Speaker: text" line per turn
    assert tr.text.split("\n")[0] == "Dr. Keller: Hello Sam, can you hear me all right?"
    assert_turn_offsets(tr)


def test_voice_tag_vtt(data_dir: Path) -> None:
    tr = io.read_transcript(data_dir / "example_voice.vtt")
    assert speakers(tr) == ["Interviewer", "Patient", "Interviewer", "Patient", "Interviewer", "Patient",
                            "Interviewer", "Patient"]
    assert bodies(tr)[1].endswith("My GP said it might be stress & suggested this programme.")
    assert (tr.turns[1].t_start, tr.turns[1].t_end) == (4.6, 13.0)
    assert bodies(tr)[3] == "I was sceptical. I thought, so they think I'm making it up."  # tags removed
    assert_turn_offsets(tr)


def test_srt(data_dir: Path) -> None:
    tr = io.read_transcript(data_dir / "example.srt")
    assert tr.format == "srt" and len(tr.turns) == 9
    assert speakers(tr)[:3] == ["Interviewer", "Participant", "Interviewer"]
    assert bodies(tr)[1] == ("Tired, as usual. I didn't sleep much because of my back. "
                             "It's been like this for weeks now.")
    assert (tr.turns[1].t_start, tr.turns[1].t_end) == (5.0, 13.2)
    assert (tr.turns[-1].t_start, tr.turns[-1].t_end) == (44.2, 46.0)
    assert "My body is telling me something" in bodies(tr)[5]
    assert_turn_offsets(tr)


def test_docx(data_dir: Path) -> None:
    tr = io.read_transcript(data_dir / "example_interview.docx")
    assert tr.format == "docx" and len(tr.turns) == 13
    assert speakers(tr) == ["Interviewer", "Participant"] * 6 + ["Interviewer"]
    assert bodies(tr)[4] == "Mm-hmm."
    assert tr.text.startswith("Interview 12 (wave 1)\n")  # the heading is text, not a turn
    assert_turn_offsets(tr)


def test_docx_transcript_tables_are_read_row_by_row(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Interview 3 (table layout)")
    table = document.add_table(rows=0, cols=3)
    for cells in (["Speaker", "Time", "Text"], ["Interviewer", "00:00:05", "How did the sessions go?"],
                  ["P3", "00:00:09", "They helped.\nI slept better."], ["", "", ""]):
        row = table.add_row().cells
        for cell, value in zip(row, cells, strict=True):
            cell.text = value
    two = document.add_table(rows=1, cols=2)  # speaker | text, the time column left out
    two.rows[0].cells[0].text, two.rows[0].cells[1].text = "Interviewer", "And your neck?"
    document.add_paragraph("P3: Less stiff.")
    document.sections[0].header.paragraphs[0].text = "CONFIDENTIAL page header"
    path = tmp_path / "table.docx"
    document.save(path)

    tr = io.read_transcript(path)
    assert speakers(tr) == ["Interviewer", "P3", "Interviewer", "P3"]  # header row and empty row skipped
    assert bodies(tr)[:2] == ["How did the sessions go?", "They helped.\nI slept better."]
    assert [t.t_start for t in tr.turns[:2]] == [5.0, 9.0]
    assert "CONFIDENTIAL" not in tr.text  # page headers are not speech
    assert tr.text.startswith("Interview 3 (table layout)\n")
    assert_turn_offsets(tr)


def test_odt_transcript_tables_are_read_row_by_row(tmp_path: Path) -> None:
    pytest.importorskip("odf")
    from odf.opendocument import OpenDocumentText
    from odf.table import CoveredTableCell, Table, TableColumn, TableRow
    from odf.table import TableCell as Cell
    from odf.text import P

    document = OpenDocumentText()
    document.text.addElement(P(text="Interview 4"))
    table = Table(name="turns")
    table.addElement(TableColumn(numbercolumnsrepeated=3))
    for cells in (["Speaker", "Time", "Text"], ["Interviewer", "00:01:02", "What changed?"],
                  ["P4", "00:01:07", "I breathe out before I answer."]):
        row = TableRow()
        for value in cells:
            cell = Cell()
            cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    merged = TableRow()  # a note spanning the row: one cell, two covered ones
    note = Cell(numbercolumnsspanned=3)
    note.addElement(P(text="[pause]"))
    merged.addElement(note)
    merged.addElement(CoveredTableCell())
    merged.addElement(CoveredTableCell())
    table.addElement(merged)
    document.text.addElement(table)
    document.text.addElement(P(text="Interviewer: Thank you."))
    path = tmp_path / "table.odt"
    document.save(str(path))

    tr = io.read_transcript(path)
    assert speakers(tr) == ["Interviewer", "P4", "Interviewer"]
    assert bodies(tr)[1] == "I breathe out before I answer.\n[pause]"  # the note continues the turn
    assert [t.t_start for t in tr.turns[:2]] == [62.0, 67.0]
    assert_turn_offsets(tr)


def test_odt(data_dir: Path) -> None:
    tr = io.read_transcript(data_dir / "example.odt")
    assert tr.format == "odt" and len(tr.turns) == 10
    assert speakers(tr)[:5] == ["T", "P", "T", "P", "P"]  # label repeated: two turns, not merged
    assert bodies(tr)[3] == "Okay."
    assert_turn_offsets(tr)


def test_csv_with_two_documents(data_dir: Path) -> None:
    trs = io.read_transcripts([data_dir / "example_utterances.csv"])
    assert [t.doc_id for t in trs] == ["s01", "s02"]
    s01, s02 = trs
    assert len(s01.turns) == 8 and len(s02.turns) == 7
    assert speakers(s02)[-2:] == ["Client", "Client"]  # table rows are not merged
    assert bodies(s01)[1] == "Mixed. The back pain was better on Monday and Tuesday, then it came back on Thursday."
    assert (s01.turns[1].t_start, s01.turns[1].t_end) == (4.8, 11.5)
    assert s01.text.split("\n")[0] == "Therapist: Welcome back. How was the week, overall?"
    with pytest.raises(InputError, match="holds 2 documents"):
        io.read_transcript(data_dir / "example_utterances.csv")
    assert io.read_transcript(data_dir / "example_utterances.csv", doc_id="s02").doc_id == "s02"


def test_jsonl(data_dir: Path) -> None:
    tr = io.read_transcript(data_dir / "example_utterances.jsonl")
    assert tr.doc_id == "fg01" and tr.format == "jsonl" and len(tr.turns) == 9
    assert speakers(tr)[:3] == ["Moderator", "P1", "P2"]
    assert [t.t_start for t in tr.turns[:2]] == [3.0, 11.0]
    assert tr.turns[-1].t_start == 84.0


def test_table_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "u.tsv"
    path.write_text("who\tsaid\nI\tHow are you?\nP1\tTired.\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing the required column 'speaker'"):
        io.read_transcript(path)
    tr = io.read_transcript(path, columns={"speaker": "who", "text": "said"})
    assert tr.doc_id == "u" and speakers(tr) == ["I", "P1"] and bodies(tr) == ["How are you?", "Tired."]


# --- encodings ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["enc_cp1252.txt", "enc_utf16.txt", "enc_utf8_bom.txt"])
def test_encodings_are_normalised(data_dir: Path, name: str) -> None:
    tr = io.read_transcript(data_dir / name)
    assert "\ufeff" not in tr.text and "\r" not in tr.text
    assert len(tr.turns) == 4 and speakers(tr)[0] == "Interviewer"


def test_cp1252_characters(data_dir: Path) -> None:
    tr = io.read_transcript(data_dir / "enc_cp1252.txt")
    assert "Müde. Der Rücken tut weh – wie immer" in tr.text
    assert "naïve" in tr.text and "…" in tr.text


def test_a_guessed_encoding_is_named_once(tmp_path: Path, data_dir: Path) -> None:
    """cp1252 (Notepad, Word's "Plain Text" on Windows) is decoded right, and the guess is said: a
    wrong guess would garble accents silently."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr = io.read_transcript(data_dir / "enc_cp1252.txt")
    notes = [str(w.message) for w in caught if "not UTF-8" in str(w.message)]
    assert notes == [(f"{data_dir / 'enc_cp1252.txt'}: not UTF-8; read as cp1252 (a guess: the usual Windows "
                     "encoding); if letters look wrong, pass --encoding NAME (encoding='NAME' in Python)")]
    assert "Müde" in tr.text
    # another single-byte encoding: charset-normalizer's guess, named as such
    cyrillic = tmp_path / "ru.txt"
    cyrillic.write_bytes("Интервьюер: Как вы себя чувствуете после терапии?\nП1: Лучше, спасибо.\n".encode("cp1251"))
    with pytest.warns(PsythemesWarning, match=r"ru\.txt: not UTF-8; read as cp1251 \(a guess: charset-normalizer"):
        assert "Лучше" in io.read_transcript(cyrillic).text
    # nothing is guessed: UTF-8 (with or without a BOM), a UTF-16 BOM, an encoding given
    for name, kwargs in (("enc_utf8_bom.txt", {}), ("enc_utf16.txt", {}), ("example_interview.txt", {}),
                         ("enc_cp1252.txt", {"encoding": "cp1252"})):
        with warnings.catch_warnings():
            warnings.simplefilter("error", PsythemesWarning)
            warnings.filterwarnings("ignore", message=".*lie outside every speaker turn")  # a title line
            io.read_transcript(data_dir / name, **kwargs)


def test_nfc_normalisation(tmp_path: Path) -> None:
    path = tmp_path / "nfd.txt"
    path.write_text("Interviewer: Cafe\u0301?\nP1: Oui.\n", encoding="utf-8")
    tr = io.read_transcript(path)
    assert bodies(tr)[0] == "Caf\u00e9?"


def test_explicit_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Interviewer: Ça va?\nP1: Très bien.\n".encode("latin-1"))
    assert bodies(io.read_transcript(path, encoding="latin-1"))[1] == "Très bien."
    with pytest.raises(InputError, match="cannot decode as utf-8") as err:
        io.read_transcript(path, encoding="utf-8")
    assert err.value.line == 1


def test_read_transcripts_encoding(cp1252_corpus: Path) -> None:
    forced = io.read_transcripts(cp1252_corpus, encoding="cp1252")
    assert [t.doc_id for t in forced] == ["P01", "P02"]
    assert "“Busy”" in forced[0].text and "café crème" in forced[1].text
    with pytest.raises(InputError, match="cannot decode as utf-8"):
        io.read_transcripts(cp1252_corpus, encoding="utf-8")


@pytest.mark.parametrize("encoding", ["nonsense", "rot13", ""])
def test_unknown_encoding_fails_for_every_format(data_dir: Path, encoding: str) -> None:
    # docx is not decoded as text, yet a bad name is an error rather than silently unused
    for path in (data_dir / "example_interview.txt", data_dir / "example_interview.docx"):
        with pytest.raises(InputError, match=f"unknown text encoding {encoding!r}"):
            io.read_transcript(path, encoding=encoding)
        with pytest.raises(InputError, match=f"unknown text encoding {encoding!r}"):
            io.read_transcripts([path], encoding=encoding)


# --- labels ---------------------------------------------------------------------------------

def test_no_labels_falls_back_to_paragraphs(data_dir: Path) -> None:
    with pytest.warns(PsythemesWarning, match="bad_no_labels.txt: no speaker labels"):
        tr = io.read_transcript(data_dir / "bad_no_labels.txt")
    assert len(tr.turns) == 3 and set(speakers(tr)) == {""}
    assert bodies(tr)[1].startswith("She reported") and bodies(tr)[1].endswith("over the last year.")


def test_labels_with_nothing_said_are_an_error(tmp_path: Path, capsys, monkeypatch) -> None:
    from psythemes.cli import main

    path = tmp_path / "labels_only.txt"
    path.write_text("Interviewer:\nP01:   \n\nInterviewer:\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"only speaker labels, no words.*nothing was said"):
        io.read_transcript(path)
    monkeypatch.setenv("PSYTHEMES_VERBOSE", "1")  # labels may be names: quoted only when asked
    with pytest.raises(InputError, match=r"only speaker labels: 'Interviewer, P01', no words"):
        io.read_transcript(path)
    monkeypatch.delenv("PSYTHEMES_VERBOSE")
    rc = main(["segment", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "labels_only.txt" in err and "nothing was said" in err and "Traceback" not in err
    # one label with words is enough
    assert len(io.parse_labelled_text("Interviewer:\nP01: Yes.\n")) == 1


def test_quoted_speech_used_once_is_not_a_speaker() -> None:
    text = ("Interviewer: What did she say?\nP1: She said it was stress.\nMum: you need rest.\n"
            "That's what she told me.\nInterviewer: I see.\nP1: Yes.\n")
    turns = io.parse_labelled_text(text)
    assert [t.speaker for t in turns] == ["Interviewer", "P1", "Interviewer", "P1"]
    assert "Mum: you need rest." in text[turns[1].start:turns[1].end]


def test_custom_label_patterns() -> None:
    text = "<<A>> hello there\n<<B>> hi\nmore words\n"
    turns = io.parse_labelled_text(text, label_patterns=[r"<<(?P<speaker>\w+)>>"])
    assert [(t.speaker, text[t.start:t.end]) for t in turns] == [("A", "hello there"), ("B", "hi\nmore words")]
    with pytest.raises(InputError, match="no named group 'speaker'"):
        io.parse_labelled_text(text, label_patterns=[r"<<\w+>>"])


@pytest.mark.parametrize("line, speaker, time", [
    ("[00:01:02] Anna: hello", "Anna", 62.0),
    ("(01:02) Dr. Smith: hello", "Dr. Smith", 62.0),
    ("Speaker 1 (00:00:03): hello", "Speaker 1", 3.0),
    ("INT: hello", "INT", None),
    ("Participant 03: hello", "Participant 03", None),
])
def test_label_variants(line: str, speaker: str, time: float | None) -> None:
    turns = io.parse_labelled_text(line + "\n")
    assert [(t.speaker, t.t_start) for t in turns] == [(speaker, time)]
    assert line[turns[0].start:turns[0].end] == "hello"


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("bad_empty.txt", "file is empty"),
    ("bad_binary.txt", "binary file"),
    ("bad_undecodable.txt", "cannot decode"),
    ("bad_unknown.xyz", ("unsupported file type '.xyz'; supported: .csv, .docx.*; for a file in one of the formats "
                        "under another name, pass --format NAME \\(format='NAME' in Python\\), NAME one of text, vtt")),
    ("bad_malformed.vtt", "malformed WebVTT cue"),
    ("bad_malformed.srt", "malformed SRT"),
    ("bad_missing_column.csv", "missing the required column 'speaker'"),
    ("does_not_exist.txt", "no such file"),
])
def test_bad_inputs_raise_input_error(data_dir: Path, name: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        io.read_transcript(data_dir / name)
    assert err.value.path == str(data_dir / name)


def test_bad_input_lines(data_dir: Path) -> None:
    with pytest.raises(InputError) as err:
        io.read_transcript(data_dir / "bad_malformed.vtt")
    assert err.value.line == 6
    with pytest.raises(InputError) as err:
        io.read_transcript(data_dir / "bad_malformed.srt")
    assert err.value.line == 5


def test_whitespace_only_and_bom_only(tmp_path: Path) -> None:
    (tmp_path / "ws.txt").write_text(" \n\t\n", encoding="utf-8")
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf")
    for name in ("ws.txt", "bom.txt"):
        with pytest.raises(InputError, match="empty"):
            io.read_transcript(tmp_path / name)


def test_corrupt_office_files(tmp_path: Path) -> None:
    for name in ("x.docx", "x.odt"):
        (tmp_path / name).write_bytes(b"PK not really a zip")
        with pytest.raises(InputError, match="not a readable"):
            io.read_transcript(tmp_path / name)


def test_duplicate_doc_ids(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "a").mkdir()
    shutil.copy(data_dir / "example_interview.txt", tmp_path / "a" / "x.txt")
    shutil.copy(data_dir / "example.srt", tmp_path / "x.srt")
    with pytest.raises(InputError, match="duplicate doc_id 'x'"):
        io.read_transcripts([tmp_path / "a" / "x.txt", tmp_path / "x.srt"])


# --- folders, metadata, roles ---------------------------------------------------------------

def test_folder_reading_skips_sidecars(tmp_path: Path, data_dir: Path) -> None:
    for name in ("example_interview.txt", "example.srt", "metadata.csv"):
        shutil.copy(data_dir / name, tmp_path / name)
    (tmp_path / "README.md").write_text("# notes\n", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("Interviewer: x\n", encoding="utf-8")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in io.expand_paths([tmp_path])] == ["example.srt", "example_interview.txt"]
    trs = io.read_transcripts(tmp_path)
    assert [t.doc_id for t in trs] == ["example", "example_interview"]


def test_folder_names_its_files_of_unsupported_types_once(tmp_path: Path, data_dir: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    """A study folder as researchers keep it: one transcript still a PDF, one an RTF, beside the
    recordings, Word's lock file and the sidecar.  The PDF and RTF are named in one warning; the
    others stay quiet."""
    from psythemes.cli import main

    shutil.copy(data_dir / "example_interview.txt", tmp_path / "P01.txt")
    (tmp_path / "interview_P09.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    (tmp_path / "P11.rtf").write_text("{\\rtf1\\ansi Interviewer: How are you?\\par}", encoding="ascii")
    for quiet in ("~$P01.docx", ".DS_Store", "Thumbs.db", "P01.m4a", "metadata.xlsx", "README.pdf"):
        (tmp_path / quiet).write_bytes(b"\x00\x01")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert [t.doc_id for t in io.read_transcripts(tmp_path)] == ["P01"]
    notes = [str(w.message) for w in caught if "unsupported types" in str(w.message)]
    assert notes == [(f"{tmp_path}: skipped 2 file(s) of unsupported types: P11.rtf, interview_P09.pdf; "
                     f"transcripts are read from {', '.join(sorted(io.FORMAT_BY_SUFFIX))} files (save such a "
                     "transcript as .docx or .txt to include it)")]
    # expanded first (the CLI counts the files for its progress bar), read later: still named, once
    files = io.expand_paths([tmp_path])
    assert [p.name for p in files] == ["P01.txt"] and [p.name for p in files.skipped] == ["P11.rtf",
                                                                                         "interview_P09.pdf"]
    rc = main(["segment", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert [line for line in err.splitlines() if "unsupported types" in line] == [f"warning: {notes[0]}"]
    # many: the first five and a count; none supported: the error says why
    for i in range(4):
        (tmp_path / f"P2{i}.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "P01.txt").unlink()
    with pytest.raises(InputError, match=r"no transcript files found in the given paths; .*skipped 6 file\(s\) of "
                                         r"unsupported types: P11\.rtf, P20\.pdf, P21\.pdf, P22\.pdf, P23\.pdf "
                                         r"and 1 more; "):
        io.read_transcripts(tmp_path)


def test_metadata_join_and_unknown_ids(data_dir: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trs = io.read_transcripts([data_dir / "example_interview.txt", data_dir / "example.srt"],
                                  metadata=data_dir / "metadata.csv")
    messages = [str(w.message) for w in caught if issubclass(w.category, PsythemesWarning)]
    assert any("match no transcript" in m and "example_ghost" in m and "example_otter" in m for m in messages)
    assert any("without a metadata row: example" in m for m in messages)
    interview = trs[0]
    assert interview.metadata == {"participant": "P3", "role": "patient", "wave": 1, "gender": "female", "age": 47}
    assert trs[1].metadata == {}


def test_metadata_from_frame_and_errors(tmp_path: Path, data_dir: Path) -> None:
    frame = pd.DataFrame({"doc_id": ["example_interview"], "wave": [2]})
    tr = io.read_transcripts([data_dir / "example_interview.txt"], metadata=frame)[0]
    assert tr.metadata == {"wave": 2}
    bad = tmp_path / "meta.csv"
    bad.write_text("id,wave\nx,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="no 'doc_id' column"):
        io.read_metadata(bad)
    bad.write_text("doc_id,wave\nx,1\nx,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="lists doc_id 'x' twice") as err:
        io.read_metadata(bad)
    assert err.value.line == 3


def test_metadata_as_a_spreadsheet_saves_it(tmp_path: Path) -> None:
    """';' from a European Excel, a 'File name' column holding file names, capitalised column names."""
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "P01.txt").write_text("I: Hello?\nR: Hi.\n", encoding="utf-8")
    (folder / "007.txt").write_text("I: Hello?\nR: Hi there.\n", encoding="utf-8")
    meta = tmp_path / "meta.csv"
    meta.write_text("File name;Participant ID;Role;Time point;Age\nP01.txt;A;patient;1;47\n007;B;therapist;2;\n",
                    encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trs = io.read_transcripts([folder], metadata=meta)
    messages = " | ".join(str(w.message) for w in caught if issubclass(w.category, PsythemesWarning))
    assert "column 'File name' taken as doc_id" in messages
    assert "'Participant ID' as 'participant', 'Time point' as 'wave'" in messages
    assert "match no transcript" not in messages and "without a metadata row" not in messages
    by_id = {t.doc_id: t.metadata for t in trs}
    assert by_id["P01"] == {"participant": "A", "role": "patient", "wave": 1, "Age": 47}
    assert by_id["007"] == {"participant": "B", "role": "therapist", "wave": 2}  # the id stays text
    assert io.role_of("R", by_id["P01"]) == "patient"


def test_parse_speaker_roles() -> None:
    roles = io.parse_speaker_roles("Interviewer=interviewer, Moderator=interviewer,P*=patient,T*=therapist")
    assert roles == {"Interviewer": "interviewer", "Moderator": "interviewer", "P*": "patient", "T*": "therapist"}
    assert list(roles) == ["Interviewer", "Moderator", "P*", "T*"]
    for bad in ("P*patient", "=x", ""):
        with pytest.raises(InputError):
            io.parse_speaker_roles(bad)


@pytest.mark.parametrize("speaker, meta, roles, expected", [
    ("P3", {}, {"P*": "patient", "*": "other"}, "patient"),          # first match wins
    ("Pat", {}, {"P*": "patient", "Pat": "therapist"}, "patient"),
    ("interviewer", {}, {"Interviewer": "lead"}, "lead"),            # case-insensitive
    ("Interviewer", {"role": "patient"}, None, "interviewer"),       # default interviewer labels
    ("I", {}, None, "interviewer"),
    ("Int", {}, None, "interviewer"),
    ("Interviewer 2", {}, None, "interviewer"),
    ("Moderator", {}, None, "interviewer"),
    ("Facilitator", {}, None, "interviewer"),
    ("Researcher", {}, None, "interviewer"),
    ("Ian", {"role": "patient"}, None, "patient"),                   # not "I" + suffix
    ("P3", {"role": "patient"}, None, "patient"),                    # document metadata
    ("P3", {}, None, ""),
    ("P3", {"speaker_roles": {"P3": "carer"}, "role": "patient"}, None, "carer"),
])
def test_role_of(speaker: str, meta: dict, roles: dict | None, expected: str) -> None:
    assert io.role_of(speaker, meta, roles) == expected


def test_speaker_roles_stored_on_transcripts(data_dir: Path) -> None:
    tr = io.read_transcripts([data_dir / "example_zoom.vtt"], speaker_roles="Dr*=interviewer,Sam*=patient")[0]
    assert tr.metadata["speaker_roles"] == {"Dr. Keller": "interviewer", "Sam Patel": "patient"}
    assert io.role_of("Sam Patel", tr.metadata) == "patient"


# --- transcripts.jsonl, dispatch ------------------------------------------------------------

def test_jsonl_round_trip(tmp_path: Path, data_dir: Path) -> None:
    meta = pd.DataFrame({"doc_id": ["example_zoom", "example_interview"], "age": [40, 47]})
    trs = io.read_transcripts([data_dir / "example_zoom.vtt", data_dir / "example_interview.txt"], metadata=meta)
    path = io.write_transcripts_jsonl(tmp_path / "t.jsonl", trs)
    back = io.load_transcripts_jsonl(path)
    assert back == trs
    (tmp_path / "bad.jsonl").write_text('{"doc_id": "x", "text": "y"}\n{oops\n', encoding="utf-8")
    with pytest.raises(InputError, match="invalid JSON") as err:
        io.load_transcripts_jsonl(tmp_path / "bad.jsonl")
    assert err.value.line == 2


def test_dispatch_tables_are_consistent() -> None:
    assert set(io.FORMAT_BY_SUFFIX.values()) <= set(io.READERS)
    for suffix in (".txt", ".vtt", ".srt", ".docx", ".odt", ".csv", ".tsv", ".jsonl"):
        assert suffix in io.FORMAT_BY_SUFFIX


def test_explicit_format_and_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "session.log"
    path.write_text("Interviewer: Hello.\nP1: Hi.\n", encoding="utf-8")
    assert len(io.read_transcript(path, format="text").turns) == 2
    with pytest.raises(InputError, match="unknown format 'pdf'"):
        io.read_transcript(path, format="pdf")


def test_a_reader_added_to_the_table_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_fake(path: Path, **_: object) -> list[Transcript]:
        return [Transcript(doc_id="a", text="x y", turns=[Turn("S", 0, 1)]),
                Transcript(doc_id="b", text="z", turns=[Turn("S", 0, 1)])]

    monkeypatch.setitem(io.READERS, "fake", read_fake)
    monkeypatch.setitem(io.FORMAT_BY_SUFFIX, ".fake", "fake")
    (tmp_path / "p.fake").write_text("?", encoding="utf-8")
    assert [t.doc_id for t in io.read_transcripts([tmp_path])] == ["a", "b"]


def test_inputs_are_not_modified(data_dir: Path) -> None:
    files = sorted(p for p in data_dir.iterdir() if p.name.startswith("example"))
    before = {p: p.read_bytes() for p in files}
    for path in files:  # one at a time: example.srt and example.odt share a doc_id
        io.read_transcripts([path])
    assert {p: p.read_bytes() for p in files} == before


def test_lazy_reader_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    # how a reader living in another module (e.g. psythemes.qdpx) is plugged in
    monkeypatch.setitem(io.READERS, "lazy", io._lazy_reader("psythemes.io:read_text"))
    monkeypatch.setitem(io.FORMAT_BY_SUFFIX, ".lazy", "lazy")
    shutil.copy(data_dir / "example_interview.txt", tmp_path / "x.lazy")
    tr = io.read_transcript(tmp_path / "x.lazy")
    assert tr.doc_id == "x" and len(tr.turns) == 14
