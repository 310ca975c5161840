"""Metadata rows per speaker: the members of a focus group as participants of their own."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from psythemes.errors import InputError, PsythemesWarning
from psythemes.io import read_transcripts
from psythemes.tables import participants, read_metadata

FOCUS_GROUP = """Moderator: Welcome everyone. What made the therapy work for you?
Anna: For me it was the breathing exercises alternating with talking about stress.
Ben: I felt listened to, really taken seriously by my therapist.
Carla: We agreed early on what the pain meant, and that helped me.
Moderator: Thank you. Anything else?
Anna: Noticing how my body reacts when I worry.
"""

INTERVIEW = """Interviewer: How did the sessions go?
P01: The exercises made me aware of tension in my shoulders.
Interviewer: And the therapist?
P01: She listened and I trusted her.
"""

SIDECAR = """doc_id,Speaker,role,gender,age,site
fg1,,therapist,,,Utrecht
fg1,Anna,therapist,female,44,
fg1,ben,therapist,male,51,
fg1,Carla,therapist,female,38,
fg1,Moderator,Moderator,,,
p01,,patient,female,60,Leiden
"""


@pytest.fixture
def study(tmp_path: Path) -> Path:
    (tmp_path / "fg1.txt").write_text(FOCUS_GROUP)
    (tmp_path / "p01.txt").write_text(INTERVIEW)
    (tmp_path / "meta.csv").write_text(SIDECAR)
    return tmp_path


def test_speaker_rows_fold_into_their_document(study: Path):
    meta = read_metadata(study / "meta.csv")  # "Speaker" read as speaker (case only: no warning)
    assert list(meta["doc_id"]) == ["fg1", "p01"] and "speaker" not in meta
    assert meta.loc[0, "speakers"]["ben"] == {"role": "therapist", "gender": "male", "age": 51}
    assert meta.loc[1, "speakers"] is None and meta.loc[1, "age"] == 60
    people = participants(meta)
    assert list(people["participant"].fillna("")) == ["fg1:Anna", "fg1:ben", "fg1:Carla", "fg1:Moderator", ""]
    # a member's own cells, and the document's where the member has none (the site of the group)
    assert list(people["gender"].fillna("")) == ["female", "male", "female", "", "female"]
    assert list(people["site"]) == ["Utrecht"] * 4 + ["Leiden"]


def test_a_document_of_speaker_rows_alone_gets_a_row(tmp_path: Path):
    (tmp_path / "m.csv").write_text("doc_id,speaker,gender\nfg2,Dee,female\nfg2,Eli,male\n")
    meta = read_metadata(tmp_path / "m.csv")
    assert list(meta["doc_id"]) == ["fg2"] and set(meta.loc[0, "speakers"]) == {"Dee", "Eli"}


@pytest.mark.parametrize(("rows", "message", "line"), [
    ("fg1,Anna,female\nfg1,anna,male\n", "lists a speaker of doc_id 'fg1' twice", 3),
    ("fg1,,female\nfg1,,male\n", "lists doc_id 'fg1' twice without a speaker", 3),
])
def test_a_speaker_or_document_listed_twice_is_refused(tmp_path: Path, rows: str, message: str, line: int):
    (tmp_path / "m.csv").write_text("doc_id,speaker,gender\n" + rows)
    with pytest.raises(InputError, match=message) as err:
        read_metadata(tmp_path / "m.csv")
    assert err.value.line == line


def test_members_who_speak_once_are_speakers_with_their_roles(study: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fg, p01 = read_transcripts([study / "fg1.txt", study / "p01.txt"], metadata=study / "meta.csv")
    assert [t.speaker for t in fg.turns] == ["Moderator", "Anna", "Ben", "Carla", "Moderator", "Anna"]
    # a row's label finds the speaker however it is cased; a moderator is the interviewer's side
    assert fg.metadata["speaker_roles"] == {"Anna": "therapist", "Ben": "therapist", "Carla": "therapist",
                                            "Moderator": "interviewer"}
    assert fg.metadata["speakers"]["Ben"]["age"] == 51 and fg.metadata["site"] == "Utrecht"
    assert "speakers" not in p01.metadata and p01.metadata["age"] == 60


def test_without_metadata_a_one_off_label_is_quoted_speech_and_said_so(study: Path, monkeypatch):
    # names are what pseudonymisation removes: a message gives the lines, the names only with --verbose
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fg, = read_transcripts([study / "fg1.txt"])
    message = " ".join(str(w.message) for w in caught)
    assert ("2 'Name:' label(s) used once read as words quoted inside the turn before them, not as speakers "
            "(line 3, 4); if one is a speaker") in message and "Ben" not in message
    assert [t.speaker for t in fg.turns] == ["Moderator", "Anna", "Moderator", "Anna"]
    monkeypatch.setenv("PSYTHEMES_VERBOSE", "1")
    with pytest.warns(PsythemesWarning, match=r"\(line 3, 4\): 'Ben', 'Carla'; if one is a speaker"):
        read_transcripts([study / "fg1.txt"])
    # a name given a role is a speaker; the rule given wins over nothing, and over a metadata row
    with pytest.warns(PsythemesWarning, match=r"1 'Name:' label\(s\) used once .*\(line 4\)"):
        fg, = read_transcripts([study / "fg1.txt"], speaker_roles="Ben=client")
    assert [t.speaker for t in fg.turns] == ["Moderator", "Anna", "Ben", "Moderator", "Anna"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fg, = read_transcripts([study / "fg1.txt"], metadata=study / "meta.csv", speaker_roles="Ben=client")
    assert fg.metadata["speaker_roles"]["Ben"] == "client" and fg.metadata["speaker_roles"]["Anna"] == "therapist"


def test_a_speaker_row_that_matches_no_speaker_is_named(study: Path, monkeypatch):
    (study / "meta.csv").write_text(SIDECAR + "fg1,Dora,therapist,female,50,\n")
    with pytest.warns(PsythemesWarning, match=r"1 metadata speaker row\(s\) match no speaker of their transcript "
                                              r"\(fg1\); write the label"):
        read_transcripts([study / "fg1.txt", study / "p01.txt"], metadata=study / "meta.csv")
    monkeypatch.setenv("PSYTHEMES_VERBOSE", "1")
    with pytest.warns(PsythemesWarning, match=r"\(fg1\): 'Dora'; write the label"):
        read_transcripts([study / "fg1.txt", study / "p01.txt"], metadata=study / "meta.csv")


def test_table_one_counts_each_member_and_themes_group_by_their_cells(study: Path):
    from psythemes.pipeline import _metadata_frame
    from psythemes.report import ReportData, render_report
    from psythemes.segment import segment_transcripts
    from psythemes.themes.discoverer import _with_metadata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transcripts = read_transcripts([study / "fg1.txt", study / "p01.txt"], metadata=study / "meta.csv")
    segments = segment_transcripts(transcripts)
    meta = _metadata_frame(transcripts)
    page = render_report(ReportData(title="t", segments=segments, metadata=meta))
    # three therapists (the moderator is not a participant), not the one row of their group
    assert "Table 1a. Participant characteristics (therapist)" in page
    therapists = page.split("Table 1a.")[1]
    assert "hold several participants" not in page
    assert ">3<" in therapists.split("</table>")[0] and "44.3 (38–51)" in therapists
    frame = _with_metadata(segments, meta)
    by_speaker = dict(zip(frame["speaker"], frame["gender"].fillna(""), strict=True))
    assert by_speaker == {"Moderator": "", "Anna": "female", "Ben": "male", "Carla": "female",
                          "Interviewer": "female", "P01": "female"}
    assert set(frame.loc[frame["doc_id"] == "fg1", "site"]) == {"Utrecht"}


def test_role_warnings_name_ids_but_not_names(tmp_path: Path, monkeypatch):
    """"No interviewer" named every speaker, names too, although messages quote no transcript text."""
    (tmp_path / "a.txt").write_text("Dave Smith: Hello there.\nSPEAKER_01: Hi.\nDave Smith: How are you?\n"
                                    "SPEAKER_01: Fine.\n")
    with pytest.warns(PsythemesWarning, match=r"a \(SPEAKER_01, 1 name\)") as caught:
        read_transcripts([tmp_path / "a.txt"])
    assert not any("Dave" in str(w.message) for w in caught)
    monkeypatch.setenv("PSYTHEMES_VERBOSE", "1")
    with pytest.warns(PsythemesWarning, match=r"a \(Dave Smith, SPEAKER_01\)"):
        read_transcripts([tmp_path / "a.txt"])


def test_a_table_of_speaker_rows_handed_in_from_python_is_read_the_same(study: Path):
    import pandas as pd

    from psythemes.themes.discoverer import _with_metadata

    segments = pd.DataFrame({"doc_id": ["fg1", "fg1"], "speaker": ["Anna", "Ben"], "text": ["a", "b"]})
    rows = pd.DataFrame({"doc_id": ["fg1", "fg1", "fg1"], "speaker": [None, "anna", "Ben"],
                         "site": ["Utrecht", None, None], "gender": [None, "female", "male"]})
    frame = _with_metadata(segments, rows)
    assert list(frame["gender"]) == ["female", "male"] and list(frame["site"]) == ["Utrecht", "Utrecht"]



def test_names_that_look_like_ids_or_roles_are_not_named_either(tmp_path: Path):
    """A review found 'ANNA' (capitals: an id to the label rules) and 'Tom R' (a one-letter role word)
    named in the 'no interviewer' warning."""
    (tmp_path / "a.txt").write_text("ANNA: How are you today?\nBEN: Fine thanks.\nANNA: Why?\nBEN: Work.\n")
    (tmp_path / "b.txt").write_text("Tom R: How are you today?\nMary C: Fine.\nTom R: Why?\nMary C: Work.\n")
    with pytest.warns(PsythemesWarning, match=r"a \(2 names\); b \(2 names\)") as caught:
        read_transcripts([tmp_path / "a.txt", tmp_path / "b.txt"])
    assert not any(name in str(w.message) for w in caught for name in ("ANNA", "BEN", "Tom", "Mary"))


def test_one_speaker_however_cased_and_a_moderator_without_a_role_cell(study: Path):
    from psythemes.pipeline import _metadata_frame
    from psythemes.segment import segment_transcripts
    from psythemes.themes.discoverer import _with_metadata

    (study / "fg1.txt").write_text(FOCUS_GROUP + "ANNA: And the breathing, again.\n")
    (study / "meta.csv").write_text("doc_id,speaker,role,gender\nfg1,,therapist,\nfg1,Anna,patient,female\n"
                                    "fg1,Ben,,male\nfg1,Carla,,female\nfg1,Moderator,,male\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fg, = read_transcripts([study / "fg1.txt"], metadata=study / "meta.csv")
    assert fg.metadata["speaker_roles"]["Anna"] == fg.metadata["speaker_roles"]["ANNA"] == "patient"
    segments = segment_transcripts([fg])
    frame = _with_metadata(segments, _metadata_frame([fg]))
    assert len(frame) == len(segments) and set(frame.loc[frame["speaker"] == "ANNA", "gender"]) == {"female"}
    people = participants(_metadata_frame([fg])).set_index("speaker")
    # the moderator's row has no role: it is the interviewer's side, as the turns are, not a participant
    assert people.loc["Moderator", "role"] == "interviewer" and people.loc["Ben", "role"] == "therapist"


def test_speaker_rows_differing_only_in_spacing_are_one_speaker(tmp_path: Path):
    (tmp_path / "m.csv").write_text("doc_id,speaker,gender\nfg1,Anna Smith,female\nfg1,Anna  Smith,female\n")
    with pytest.raises(InputError, match="lists a speaker of doc_id 'fg1' twice") as err:
        read_metadata(tmp_path / "m.csv")
    assert "Anna" not in err.value.message and err.value.line == 3


def test_a_speaker_column_naming_each_interview_participant_keeps_the_documents_cells(tmp_path: Path):
    """A sidecar with the participant's label per interview (one row per document, each with a
    speaker) lost its wave and role at document level once speaker rows existed."""
    (tmp_path / "m.csv").write_text("doc_id,speaker,wave,role,age\nP01-W1,P01,1,patient,40\nP02-W2,P02,2,patient,50\n")
    meta = read_metadata(tmp_path / "m.csv")
    assert list(meta["wave"]) == [1, 2] and list(meta["role"]) == ["patient", "patient"]
    assert meta.loc[0, "speakers"] == {"P01": {"wave": 1, "role": "patient", "age": 40}}


def test_table_one_from_python_counts_focus_group_members(study: Path):
    from psythemes.report import table_one

    meta = read_metadata(study / "meta.csv")
    cells = {(r.characteristic, r.level): r.value for r in table_one(meta, role="therapist").itertuples()}
    assert cells[("n", "")] == "3" and cells[("gender", "female")] == "2 (67%)"
