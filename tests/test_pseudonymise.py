"""Pseudonymisation: consistent surrogates across files, the key kept apart, restore, word lists."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from psythemes.cli import main
from psythemes.errors import InputError, PsythemesWarning
from psythemes.io import parse_labelled_text, read_transcripts
from psythemes.pseudonymise import (
    Pseudonymiser,
    PseudonymKey,
    check_key_path,
    read_word_list,
    restore_text,
    restore_transcripts,
)
from psythemes.schema import Transcript

# loads the spaCy model through Presidio
pytestmark = pytest.mark.slow

A = ("Interviewer: Who helped you most?\n"
     "Dave: My physio, Margaret Thornbury. I saw her at Leeds General Infirmary on 3 March 2019.\n"
     "Interviewer: How can she be reached?\n"
     "Dave: Email margaret.thornbury@example.com or phone 0113 496 0000. My hospital number is MRN 4471203.\n")
B = ("Interviewer: And at home?\n"
     "P02: Margaret came round on Tuesday, and Dave drove me to Harrogate. I'm 93 years old, you know.\n"
     "P02: Mr Thornbury was there too. My back was stiff all week.\n")


def _docs(**texts: str) -> list[Transcript]:
    return [Transcript(doc_id, text, turns=parse_labelled_text(text)) for doc_id, text in texts.items()]


def _assert_gone(transcript: Transcript, names: tuple[str, ...]) -> None:
    """None of ``names`` is left in the text or in any speaker label."""
    for name in names:
        assert name not in transcript.text, name
        assert not any(name in turn.speaker for turn in transcript.turns), name


@pytest.fixture(scope="module")
def result():
    return Pseudonymiser().fit_transform(_docs(a=A, b=B))


def test_identifiers_are_replaced_consistently_across_files(result):
    a, b = (t.text for t in result.transcripts)
    for original in ("Margaret", "Thornbury", "Dave", "Leeds General Infirmary", "3 March 2019",
                     "margaret.thornbury@example.com", "0113 496 0000", "4471203", "Harrogate", "93"):
        assert original not in a + b, original
    key = result.key
    margaret = key.terms["margaret thornbury"]
    # the full name and its parts share one surrogate, in both files
    assert key.terms["margaret"] == key.terms["thornbury"] == margaret
    assert margaret in a and margaret in b
    assert f"Mr {margaret} was there" in b
    dave = key.terms["dave"]
    assert f"and {dave} drove me" in b
    # what carries the story is left alone
    assert "My back was stiff all week." in b and "on Tuesday" in b and "years old" in b
    assert result.counts()["EMAIL"] == 1 and result.counts()["AGE"] == 1


def test_speaker_labels_map_like_the_text_and_offsets_refer_to_the_new_text(result):
    a, b = result.transcripts
    dave = result.key.terms["dave"]
    assert {turn.speaker for turn in a.turns} == {"Interviewer", dave}
    assert {turn.speaker for turn in b.turns} == {"Interviewer", "P02"}  # codes stay codes
    assert a.text.splitlines()[1].startswith(f"{dave}: ")
    for t in result.transcripts:
        assert parse_labelled_text(t.text) == t.turns


def test_restore_gives_back_the_originals_exactly(result):
    originals = _docs(a=A, b=B)
    restored = restore_transcripts(result.transcripts, result.key)
    assert [(t.text, t.turns) for t in restored] == [(t.text, t.turns) for t in originals]
    surrogate = result.key.terms["margaret thornbury"]
    assert restore_text(f"a quote about {surrogate}", result.key) == "a quote about Margaret Thornbury"


def test_gold_spans_move_onto_the_pseudonymised_text(result):
    original = _docs(a=A)[0]
    start = A.index("I saw her")
    end = A.index("\nInterviewer: How")
    gold = pd.DataFrame({"doc_id": ["a"], "start": [start], "end": [end], "code": ["x"], "coder": ["c"]})
    moved = result.map_spans(gold).iloc[0]
    new = result.transcripts[0].text[moved["start"]:moved["end"]]
    assert new.startswith("I saw her at ") and new.endswith(".") and "Leeds" not in new
    assert restore_text(new, result.key) == original.text[start:end]


def test_key_file_is_owner_only_and_round_trips(result, tmp_path):
    path = result.key.save(tmp_path / "keys" / "study.key.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert PseudonymKey.load(path).to_dict() == json.loads(json.dumps(result.key.to_dict()))
    assert not list(path.parent.glob(".*.tmp"))


def test_key_must_not_lie_inside_outputs_or_cache(tmp_path):
    with pytest.raises(InputError, match="apart from the outputs"):
        check_key_path(tmp_path / "out" / "key.json", tmp_path / "out")
    assert check_key_path(tmp_path / "key.json", tmp_path / "out") == tmp_path / "key.json"
    (tmp_path / "not-a-key.json").write_text("{}", encoding="utf-8")
    with pytest.raises(InputError, match="not a psythemes pseudonymisation key"):
        PseudonymKey.load(tmp_path / "not-a-key.json")


def test_an_earlier_key_keeps_surrogates_for_a_new_batch(result):
    later = Pseudonymiser(key=result.key).fit_transform(_docs(c="P03: I met Margaret Thornbury and Priya Sharma.\n"))
    text = later.transcripts[0].text
    assert result.key.terms["margaret thornbury"] in text
    assert "Priya" not in text and "Sharma" not in text
    assert later.key.terms["priya sharma"] not in result.key.surrogates  # a new number, not a reused one


def test_word_lists_add_names_and_protect_terms(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("# participants and local places\nbeatrix\nPLACE: Hebden Bridge\n", encoding="utf-8")
    keep = tmp_path / "keep.txt"
    keep.write_text("Alexander\n", encoding="utf-8")
    assert read_word_list(names) == [("PERSON", "beatrix"), ("PLACE", "Hebden Bridge")]
    text = ("P01: beatrix said the Alexander technique helped, Beatrix knows.\n"
            "P01: We walked to Hebden Bridge with Oliver Hughes.\n")
    res = Pseudonymiser(names=names, keep=keep).fit_transform(_docs(d=text))
    out = res.transcripts[0].text
    assert "beatrix" not in out.lower() and "Hebden" not in out and "Oliver" not in out
    assert "Alexander technique" in out
    assert res.key.surrogates[res.key.terms["hebden bridge"]]["kind"] == "PLACE"
    bad = tmp_path / "bad.txt"
    bad.write_text("PLACE:\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.txt:1: no term"):
        read_word_list(bad)


def test_an_id_that_contains_a_name_is_flagged_without_the_name():
    with pytest.warns(PsythemesWarning, match="document 1 of 1: its id") as caught:
        Pseudonymiser().fit_transform(_docs(**{"interview-Thornbury": "P01: I told Margaret Thornbury.\n"}))
    assert not any("Thornbury" in str(w.message) for w in caught)


def test_cli_pseudonymise_and_restore(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text(A, encoding="utf-8")
    (src / "b.txt").write_text(B, encoding="utf-8")
    out = tmp_path / "pseudo"
    assert main(["pseudonymise", str(src), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    key = tmp_path / "pseudo.key.json"
    assert key.is_file() and stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert "Margaret" not in printed.out + printed.err
    # the key is not among the outputs (the hidden record of what psythemes wrote is)
    written = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert written == ["a.txt", "b.txt"] and (out / ".psythemes-outputs.json").is_file()
    for name in written:
        text = (out / name).read_text(encoding="utf-8")
        assert "Margaret" not in text and "Thornbury" not in text
    # the files read back as transcripts with the same speakers
    again = read_transcripts([out / "a.txt"])[0]
    assert len(again.turns) == 4
    assert main(["pseudonymise", "--restore", "--key", str(key), str(out), "--out", str(tmp_path / "back")]) == 0
    assert (tmp_path / "back" / "a.txt").read_text(encoding="utf-8") == A
    assert (tmp_path / "back" / "b.txt").read_text(encoding="utf-8") == B
    # errors are one line: restore without a key, a key inside the output folder
    assert main(["pseudonymise", "--restore", str(out), "--out", str(tmp_path / "x")]) == 2
    assert main(["pseudonymise", str(src), "--out", str(out), "--key", str(out / "k.json")]) == 2
    err = capsys.readouterr().err
    assert "--restore needs --key" in err and "apart from the outputs" in err
    assert (src / "a.txt").read_text(encoding="utf-8") == A  # inputs untouched


def test_reader_errors_name_the_line_not_the_words(tmp_path, monkeypatch):
    monkeypatch.delenv("PSYTHEMES_VERBOSE", raising=False)
    path = tmp_path / "bad.vtt"
    path.write_text("WEBVTT\n\nMargaret Thornbury said hello\nand goodbye\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_transcripts([path])
    assert "bad.vtt:3:" in str(err.value) and "Margaret" not in str(err.value)
    monkeypatch.setenv("PSYTHEMES_VERBOSE", "1")
    with pytest.raises(InputError, match="Margaret Thornbury said hello"):
        read_transcripts([path])


def test_metadata_and_stored_speaker_roles_follow_the_labels(tmp_path):
    from psythemes.io import annotate_transcripts, role_of

    docs = _docs(e="Interviewer: Hello.\nOliver Hughes: Hello, I came with Beatrix Hughes.\n")
    annotate_transcripts(docs, speaker_roles="Oliver*=partner")
    docs[0].metadata["note"] = "partner of Beatrix Hughes"
    res = Pseudonymiser().fit_transform(docs)
    t = res.transcripts[0]
    assert "Oliver" not in json.dumps(t.metadata) and "Beatrix" not in json.dumps(t.metadata)
    label = t.turns[1].speaker
    assert label.startswith("PERSON_") and role_of(label, t.metadata) == "partner"
    assert restore_transcripts([t], res.key)[0].metadata == docs[0].metadata


def test_runs_offline_and_writes_no_cache_of_its_own(tmp_path):
    """In a fresh process with sockets blocked (before Presidio is imported) and an empty home:
    the e-mail check does not fetch the public suffix list, nothing is downloaded or cached."""
    import subprocess
    import sys

    # urllib3 probes IPv6 with a local socket when imported (not a connection): as in conftest.py
    script = (
        "import urllib3, pytest_socket; pytest_socket.disable_socket(allow_unix_socket=True)\n"
        "from psythemes.schema import Transcript\n"
        "from psythemes.pseudonymise import Pseudonymiser\n"
        "r = Pseudonymiser().fit_transform([Transcript('a', 'P01: Mail dave.smith@nhs.net or www.example.org.')])\n"
        "print(r.transcripts[0].text)\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"),
                                          os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "P01: Mail EMAIL_1 or URL_1."
    assert "SocketBlockedError" not in run.stderr and "tried to use socket" not in run.stderr
    assert not [p for p in home.rglob("*")], "something was cached in the home folder"


def test_a_huge_line_is_read_in_pieces_and_offsets_hold():
    filler = "and then we talked about the pain for a while. " * 200  # ~9,400 characters, one line
    text = f"P01: {filler}I rang Margaret Thornbury. {filler}Margaret said no.\n"
    res = Pseudonymiser().fit_transform(_docs(f=text))
    out = res.transcripts[0]
    assert "Margaret" not in out.text and out.text.count(res.key.terms["margaret thornbury"]) == 2
    assert parse_labelled_text(out.text) == out.turns
    assert restore_transcripts([out], res.key)[0].text == text


def test_speaker_roles_given_at_reading_survive_pseudonymisation(tmp_path):
    from psythemes.segment import segment_transcripts

    path = tmp_path / "g.txt"
    path.write_text("Interviewer: How are you?\nDave Miller: Not bad, my back is better.\n", encoding="utf-8")
    docs = read_transcripts([path], speaker_roles="Dave*=patient")
    res = Pseudonymiser().fit_transform(docs)
    segments = segment_transcripts(res.transcripts, speaker_roles="Dave*=patient")
    row = segments[segments["speaker"].str.startswith("PERSON_")].iloc[0]
    assert row["role"] == "patient" and "Dave" not in row["text"] + row["speaker"]


def test_numbers_that_are_not_identifiers_stay():
    text = ("P01: From 2019-2020 I worked 37 hours a week, since 1998 really, and I'm 95% sure it was 2 years.\n"
            "P01: I was 45 then; my dad is 89 years old.\n")
    res = Pseudonymiser().fit_transform(_docs(n=text))
    assert res.transcripts[0].text == text and res.identifiers == []


def test_extract_refuses_a_key_inside_the_outputs_and_word_lists_without_pseudonymise(tmp_path, capsys):
    from psythemes.pipeline import extract

    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text(A, encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(InputError, match="apart from the outputs"):
        extract([src], out, codebook="psychosomatic", pseudonymise=True, pseudonym_key=out / "key.json",
                cache_dir=False)
    with pytest.raises(InputError, match="apart from the outputs"):
        extract([src], out, codebook="psychosomatic", pseudonymise=True, pseudonym_key=tmp_path / "cache" / "k.json",
                cache_dir=tmp_path / "cache")
    assert not out.exists()
    names = tmp_path / "names.txt"
    names.write_text("Beatrix\n", encoding="utf-8")
    assert main(["extract", str(src), "--out", str(out), "--codebook", "psychosomatic", "--names", str(names)]) == 2
    assert "--names and --keep work with --pseudonymise" in capsys.readouterr().err
    assert not out.exists()


def test_labels_with_name_particles_are_names_and_no_finding_reaches_into_a_label():
    # Dutch labels: "Annelies de Jong" was taken for a role code and kept, whole, in every output;
    # "Sven van den Berg" lost "Sven" and "Berg" in the text but kept its speaker field; a finding
    # "Pieter-Jan de Wit: De" replaced the label itself and merged the turns
    text = ("Interviewer: How was the contact with the therapist?\n"
            "Annelies de Jong: Very good. I felt heard.\n"
            "Interviewer: And the exercises?\n"
            "Sven van den Berg: Sven here, it helped a lot.\n"
            "Interviewer: And you?\n"
            "Pieter-Jan de Wit: De uitleg. The explanation helped.\n")
    result = Pseudonymiser().fit_transform(_docs(nl=text))
    new = result.transcripts[0]
    _assert_gone(new, ("Annelies", "Jong", "Sven", "Berg", "Pieter-Jan", "Wit"))
    assert parse_labelled_text(new.text) == new.turns  # the same six turns, labels intact
    assert len(new.turns) == 6 and {turn.speaker for turn in new.turns} >= {"Interviewer"}
    assert restore_transcripts(result.transcripts, result.key)[0].text == text


def test_role_labels_in_other_languages_are_not_names():
    # "Patiënt:" and "Onderzoeker:" became PERSON_3 and PERSON_8, and with them every role
    text = ("Onderzoeker: How was it?\nPatiënt: Good, my back hurts less.\n"
            "Interviewerin: And the exercises?\nTeilnehmerin: They helped.\n")
    new = Pseudonymiser().fit_transform(_docs(x=text)).transcripts[0]
    assert {turn.speaker for turn in new.turns} == {"Onderzoeker", "Patiënt", "Interviewerin", "Teilnehmerin"}


def test_labels_with_a_role_in_brackets_are_names_and_the_speaker_column_follows_the_text():
    """A stranger's privacy review: 'Dr Helen Fry (Researcher):' and 'Jane Doe (SL):' were kept whole
    (34 times in every output), and where the text was replaced the speaker column kept the name."""
    text = ("Jane Doe (SL): It has been awful, honestly.\n"
            "Chris Bell [Researcher]: And work?\n"
            "Dr Helen Fry (Researcher): Jane, you said your manager doubted you?\n"
            "Jane Doe (SL): He did. Chris knows.\n"
            "Participant 3 (F, 52): Me too.\n")
    result = Pseudonymiser().fit_transform(_docs(fg=text))
    new = result.transcripts[0]
    _assert_gone(new, ("Jane", "Doe", "Chris", "Bell", "Helen", "Fry"))
    speakers = [turn.speaker for turn in new.turns]
    assert speakers[0] == speakers[3] and speakers[0].endswith(" (SL)") and speakers[1].endswith(" [Researcher]")
    assert speakers[2].startswith("Dr ") and speakers[4] == "Participant 3 (F, 52)"  # a role and an id stay
    assert restore_transcripts(result.transcripts, result.key)[0].text == text


def test_postcodes_and_a_later_batch_use_what_the_key_knows():
    """UK postcodes were found, then dropped as "no word of three letters"; a second batch with the
    key missed 'Bill' and gave a full name known to the key as two pieces."""
    first = Pseudonymiser().fit_transform(_docs(a=(
        "Interviewer: Who helps?\nP1: Bill Thornton from the union, and Anne-Marie van der Berg. "
        "We live at DY10 2QS now.\nInterviewer: Thanks.\n")))
    assert "DY10" not in first.transcripts[0].text and "PLACE_" in first.transcripts[0].text
    again = Pseudonymiser(key=first.key).fit_transform(_docs(b=(
        "Interviewer: And since?\nP2: Bill from the union rang. Anne-Marie van der Berg found the group.\n"
        "Interviewer: Good.\n")))
    text = again.transcripts[0].text
    assert "Bill" not in text and "Anne-Marie" not in text and "Berg" not in text
    whole = first.key.terms["anne-marie van der berg"]
    assert f"{whole} found the group" in text  # one surrogate for the whole name, the key's


def test_a_name_only_the_metadata_holds_is_replaced():
    # a stranger's notes column named two people nowhere else: Table 1, project.qde and
    # transcripts.jsonl showed them
    docs = _docs(a="Interviewer: How are you?\nP1: Tired. Dr Castellano was kind.\nInterviewer: Thanks.\n")
    docs[0].metadata = {"participant": "P1", "notes": "referred by Dr Imogen Castellano, seen with Priya Sharma",
                        "gender": "F"}
    result = Pseudonymiser().fit_transform(docs)
    meta, text = result.transcripts[0].metadata, result.transcripts[0].text
    assert "Castellano" not in meta["notes"] and "Priya" not in meta["notes"] and "Castellano" not in text
    assert meta["participant"] == "P1" and meta["gender"] == "F"


def test_a_name_in_brackets_after_a_role_and_notes_on_several_lines():
    # a review of the day's diff: "Interviewer (Jane Smith):" kept its name in the speaker column, and a
    # notes cell with a line break (Excel's Alt+Enter) was not read
    text = ("Interviewer (Jane Smith): How are you?\nP01 (Sarah Cole): Fine. Jane knows.\n"
            "Carer (Linda Hart): She is tired.\nJane Doe (SL): Thanks.\n")
    docs = _docs(a=text)
    docs[0].metadata = {"notes": "Referred by Dr Imogen Castellano.\nSeen with Priya Sharma at home."}
    result = Pseudonymiser().fit_transform(docs)
    new = result.transcripts[0]
    speakers = [turn.speaker for turn in new.turns]
    assert [s.split(" (")[0] for s in speakers[:3]] == ["Interviewer", "P01", "Carer"]  # roles and ids stay
    assert speakers[3].endswith(" (SL)") and not speakers[3].startswith("Jane")  # a note after a name stays
    _assert_gone(new, ("Jane", "Smith", "Sarah", "Linda", "Hart"))
    assert "Castellano" not in new.metadata["notes"] and "Priya" not in new.metadata["notes"]
    assert restore_transcripts(result.transcripts, result.key)[0].text == text
