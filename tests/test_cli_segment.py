"""``psythemes segment``: outputs, summary, warnings, and one clean error line for every bad input."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from psythemes import io
from psythemes.cli import main

BAD_INPUTS = [
    ("bad_empty.txt", "file is empty"),
    ("bad_binary.txt", "binary file"),
    ("bad_undecodable.txt", "cannot decode"),
    ("bad_unknown.xyz", "unsupported file type"),
    ("bad_malformed.vtt", "malformed WebVTT"),
    ("bad_malformed.srt", "malformed SRT"),
    ("bad_missing_column.csv", "missing the required column"),
    ("does_not_exist.txt", "no such file"),
]


def digest(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.exists()}


def test_segment_writes_outputs_and_summary(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    rc = main(["segment", str(data_dir / "example_otter.txt"), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.out.strip() == f"1 transcripts, 17 segments (unit: turn) -> {out}"
    segments = pd.read_csv(out / "segments.csv", keep_default_na=False)
    transcripts = io.load_transcripts_jsonl(out / "transcripts.jsonl")
    assert len(segments) == 17 and (out / "segments_dropped.csv").exists()
    text = transcripts[0].text
    assert all(text[r.start:r.end] == r.text for r in segments.itertuples())


def test_segment_options(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    rc = main(["segment", str(data_dir / "example_interview.txt"), str(data_dir / "example_zoom.vtt"),
               "--unit", "window", "--window-size", "2", "--stride", "2",
               "--speaker-roles", "Dr*=interviewer,Sam*=patient,P3=patient",
               "--drop-interviewer", "--backchannels", "merge", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "2 transcripts" in captured.out and "dropped" in captured.out and "(unit: window)" in captured.out
    kept = pd.read_csv(out / "segments.csv", keep_default_na=False)
    dropped = pd.read_csv(out / "segments_dropped.csv", keep_default_na=False)
    assert set(kept["role"]) == {"patient"}
    assert {"interviewer", "backchannel"} <= set(dropped["kind"])


def test_speaker_roles_repeated_add_up(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # an Otter export of a therapy session with named speakers: one --speaker-roles per therapist
    files = []
    for k, therapist in enumerate(["Dr. Renée Dubois", "Mark O'Connell"]):
        path = tmp_path / f"session{k}_otter_ai.txt"
        path.write_text(f"{therapist}  0:00\nHow was your week?\n\nJoe Bloggs  0:04\nLong. My neck was stiff.\n",
                        encoding="utf-8")
        files.append(str(path))
    out = tmp_path / "out"
    rc = main(["segment", *files, "--speaker-roles", "Dr. Renée Dubois=therapist",
               "--speaker-roles", "Mark O'Connell=therapist", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    segments = pd.read_csv(out / "segments.csv", keep_default_na=False)
    roles = segments.drop_duplicates("speaker").set_index("speaker")["role"].to_dict()
    assert roles["Dr. Renée Dubois"] == roles["Mark O'Connell"] == "therapist"
    # a therapist named by the user is the clinical session's counterpart: no missing-interviewer warning
    assert "interviewer" not in captured.err


def test_metadata_warning_printed(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["segment", str(data_dir / "example_interview.txt"), "--metadata", str(data_dir / "metadata.csv"),
               "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 0
    assert "warning: metadata rows match no transcript: example_otter, example_ghost" in err
    segments = pd.read_csv(tmp_path / "out" / "segments.csv", keep_default_na=False)
    assert set(segments.loc[segments["speaker"] == "P3", "role"]) == {"patient"}


def test_no_labels_warning(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["segment", str(data_dir / "bad_no_labels.txt"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 0
    assert "warning: " in err and "bad_no_labels.txt: no speaker labels found" in err


@pytest.mark.parametrize("name, message", BAD_INPUTS)
def test_bad_input_is_one_error_line(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture,
                                     name: str, message: str) -> None:
    good = data_dir / "example_otter.txt"
    bad = data_dir / name
    out = tmp_path / "out"
    assert main(["segment", str(good), "--out", str(out)]) == 0
    earlier = (out / "segments.csv").read_bytes()
    capsys.readouterr()
    before = digest([good, bad])

    rc = main(["segment", str(good), str(bad), "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 2
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0]
    assert message in lines[0]
    assert "Traceback" not in captured.err
    assert digest([good, bad]) == before  # inputs untouched
    assert (out / "segments.csv").read_bytes() == earlier  # earlier results intact
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_duplicate_doc_ids_cli(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["segment", str(data_dir / "example.srt"), str(data_dir / "example.odt"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "duplicate doc_id 'example'" in err
    assert str(data_dir / "example.odt") in err


def test_bad_option_values(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    rc = main(["segment", str(data_dir / "example_otter.txt"), "--unit", "chapter", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "Invalid value for '--unit'" in err and "'turn', 'sentence', 'window'" in err
    rc = main(["segment", str(data_dir / "example_otter.txt"), "--speaker-roles", "P3", "--out", str(tmp_path)])
    assert rc == 2 and "error: bad speaker-role item 'P3'" in capsys.readouterr().err


def test_out_is_a_file(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    target = tmp_path / "taken"
    target.write_text("x", encoding="utf-8")
    rc = main(["segment", str(data_dir / "example_otter.txt"), "--out", str(target)])
    assert rc == 2 and "not a folder" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "x"


def test_folder_input(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("example_otter.txt", "example_voice.vtt", "example_utterances.csv", "metadata.csv"):
        shutil.copy(data_dir / name, corpus / name)
    rc = main(["segment", str(corpus), "--out", str(tmp_path / "out"), "--unit", "sentence"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.out.startswith("4 transcripts, ")  # csv holds two documents


def test_encoding_option(tmp_path: Path, cp1252_corpus: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    rc = main(["segment", str(cp1252_corpus), "--encoding", "cp1252", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    texts = pd.read_csv(out / "segments.csv", keep_default_na=False)["text"].tolist()
    assert "How was the café?" in texts and "A long walk, then a café crème with a friend." in texts
    assert "“Busy”, she said. I felt the tension in my shoulders again." in texts
    assert "My supervisor’s “deadline” for the thesis worries me." in texts

    # the option reaches the reader: these bytes are not UTF-8
    rc = main(["segment", str(cp1252_corpus), "--encoding", "utf-8", "--out", str(tmp_path / "utf8")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "cannot decode as utf-8" in err
    assert str(cp1252_corpus / "P01.txt") in err and "Traceback" not in err


@pytest.mark.parametrize("encoding", ["nonsense", "rot13"])  # rot13 is a codec, but not a text encoding
def test_unknown_encoding_is_one_error_line(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture,
                                            encoding: str) -> None:
    # a .docx is never decoded as text: the name is checked before any file is read
    rc = main(["segment", str(data_dir / "example_interview.docx"), "--encoding", encoding,
               "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert rc == 2 and len(lines) == 1
    assert lines[0].startswith("error: ") and f"unknown text encoding {encoding!r}" in lines[0]
    assert "Traceback" not in captured.err and not (tmp_path / "out").exists()


def test_psythemes_own_outputs_as_inputs(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    # a user points the next command at the output folder of `segment`, or at a file in it
    out = tmp_path / "out"
    assert main(["segment", str(data_dir / "example_otter.txt"), "--out", str(out)]) == 0
    capsys.readouterr()
    # transcripts.jsonl reads back as the transcripts it holds: segmenting it again gives the same table
    assert main(["segment", str(out / "transcripts.jsonl"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "segments.csv").read_bytes() == (out / "segments.csv").read_bytes()
    # a segment table (or the folder holding it) is no transcript: one line saying where it goes
    before = digest(sorted(out.iterdir()))
    for given in (out / "segments.csv", out):
        capsys.readouterr()
        assert main(["segment", str(given), "--out", str(tmp_path / "bad")]) != 0
        err = capsys.readouterr().err
        assert "a psythemes segment table, not a transcript" in err and "Traceback" not in err
    assert digest(sorted(out.iterdir())) == before


def test_map_and_read_segments_take_the_output_folder(tmp_path: Path, data_dir: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    from psythemes.errors import InputError, PsythemesWarning
    from psythemes.jobs import load_segments
    from psythemes.tables import read_segments

    out = tmp_path / "out"
    assert main(["segment", str(data_dir / "example_otter.txt"), "--out", str(out)]) == 0
    with pytest.warns(PsythemesWarning, match="is a folder: reading its segment table"):
        from_folder = read_segments(out)
    pd.testing.assert_frame_equal(from_folder, read_segments(out / "segments.csv"))
    with pytest.warns(PsythemesWarning, match="is a folder"):
        segments, _, segmented = load_segments([out])  # themes and extract's reader of a segments input
    assert not segmented and len(segments) == len(from_folder)
    with pytest.raises(InputError, match="a folder without a segments.csv"):
        read_segments(tmp_path)


def test_another_tools_table_with_segment_columns_is_read_as_utterances(tmp_path: Path) -> None:
    # WhisperX-style: segment_id a counter, start/end in seconds; only psythemes' doc:start-end ids are refused
    table = tmp_path / "whisperx.csv"
    table.write_text("doc_id,segment_id,start,end,speaker,text\nP01,1,0.0,4.2,Interviewer,How was it?\n"
                     "P01,2,4.5,9.1,P01,It was good.\n", encoding="utf-8")
    transcripts = io.read_transcripts([table])
    assert [(t.doc_id, len(t.turns)) for t in transcripts] == [("P01", 2)]
    records = tmp_path / "whisperx.jsonl"  # a JSONL table is a list: its first row must not be read twice
    records.write_text('{"doc_id": "P01", "segment_id": 1, "start": 0.0, "end": 4.2, "speaker": "I", '
                       '"text": "How was it?"}\n{"doc_id": "P01", "segment_id": 2, "start": 4.5, "end": 9.1, '
                       '"speaker": "P01", "text": "It was good."}\n', encoding="utf-8")
    assert [len(t.turns) for t in io.read_transcripts([records])] == [2]


def test_a_folder_of_interviews_with_a_stale_segments_csv_is_not_an_output_folder(tmp_path: Path) -> None:
    from psythemes.errors import InputError
    from psythemes.jobs import load_segments
    from psythemes.segment import segment_transcripts
    from psythemes.tables import segment_table_path, write_segments

    folder = tmp_path / "interviews"
    folder.mkdir()
    (folder / "P1.txt").write_text("Interviewer: How was it?\nP1: It was good, she listened.\n", encoding="utf-8")
    (folder / "P2.txt").write_text("Interviewer: How was it?\nP2: Hard at first.\n", encoding="utf-8")
    write_segments(folder / "segments.csv", segment_transcripts(io.read_transcripts([folder / "P1.txt"])))
    io.write_transcripts_jsonl(folder / "transcripts.jsonl", io.read_transcripts([folder / "P1.txt"]))
    assert segment_table_path(folder) is None  # P2.txt would be dropped without a word otherwise
    # extract's folder holds project.qdpx (and maybe the researcher's notes) beside its manifest: an output folder
    out = tmp_path / "run"
    out.mkdir()
    for name in ("segments.csv", "transcripts.jsonl"):
        (out / name).write_bytes((folder / name).read_bytes())
    (out / "project.qdpx").write_bytes(b"PK")
    assert segment_table_path(out) == out / "segments.csv"
    (out / "my_notes.txt").write_text("to check", encoding="utf-8")
    assert segment_table_path(out) is None
    (out / "manifest.json").write_text("{}", encoding="utf-8")
    assert segment_table_path(out) == out / "segments.csv"
    with pytest.raises(InputError, match="in a folder of transcripts, move it out"):
        load_segments([folder])


def test_a_hand_edited_transcripts_jsonl_is_one_error_line(tmp_path: Path, data_dir: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    import json

    out = tmp_path / "out"
    assert main(["segment", str(data_dir / "example_otter.txt"), "--out", str(out)]) == 0
    record = json.loads((out / "transcripts.jsonl").read_text(encoding="utf-8").splitlines()[0])
    record["text"] = record["text"][: len(record["text"]) // 2]  # a researcher shortens it by hand
    edited = tmp_path / "edited.jsonl"
    edited.write_text(json.dumps(record) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["segment", str(edited), "--out", str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err
    assert "lies outside its text" in err and "edited after psythemes wrote it" in err and "Traceback" not in err
