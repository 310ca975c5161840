"""Speaker roles are resolved once, when transcripts are read; segmenting uses what they carry."""

from __future__ import annotations

import pandas as pd
from test_segment import make_transcript

from psythemes import io
from psythemes.schema import coded_roles
from psythemes.segment import segment_transcripts

TURNS = [("Dr Keller", "How have the headaches been lately?"), ("Anna", "Worse, mostly in the evening."),
         ("Dr Keller", "What happens in the evening?"), ("Anna", "My shoulders tighten when I sit down.")]
PATTERNS = "Dr*=interviewer,Anna=patient"


def test_segmenting_uses_the_roles_resolved_at_reading():
    read = io.annotate_transcripts([make_transcript(TURNS, "d1")], speaker_roles=PATTERNS)
    assert read[0].metadata["speaker_roles"] == {"Dr Keller": "interviewer", "Anna": "patient"}
    carried = segment_transcripts(read)  # no speaker_roles: the transcripts carry them
    given = segment_transcripts([make_transcript(TURNS, "d1")], speaker_roles=PATTERNS)  # hand-built transcripts
    pd.testing.assert_frame_equal(carried, given)
    assert carried["role"].tolist() == ["interviewer", "patient", "interviewer", "patient"]


def test_roles_carried_by_a_transcript_are_not_matched_again(monkeypatch):
    """A carried role stays what reading resolved: e.g. a pseudonymised label PERSON_1 that the
    reader named interviewer is not re-matched against patterns made for the original labels."""
    carried = make_transcript([("PERSON_1", "How are you?"), ("Anna", "Tired.")], "d1",
                              meta={"speaker_roles": {"PERSON_1": "interviewer", "Anna": "patient"}, "role": "patient"})
    assert segment_transcripts([carried])["role"].tolist() == ["interviewer", "patient"]
    calls: list[str] = []
    real = io.role_of
    monkeypatch.setattr(io, "role_of", lambda speaker, *a, **k: calls.append(speaker) or real(speaker, *a, **k))
    segment_transcripts([make_transcript(TURNS * 5, "d2", meta={"role": "patient"})])
    assert calls == ["Dr Keller", "Anna"]  # once per speaker, not once per turn


def test_speaker_role_map_follows_role_of():
    tr = make_transcript([("Interviewer", "Hello?"), ("P1", "Hi."), ("Interviewer", "How are you?")], "d1",
                         meta={"role": "patient"})
    assert io.speaker_role_map(tr) == {"Interviewer": "interviewer", "P1": "patient"}
    assert io.speaker_role_map(tr, {"P*": "client"}) == {"Interviewer": "interviewer", "P1": "client"}


# ---------------------------------------------------------------- the roles the gold codes
def test_coded_roles_names_the_coded_roles_only_when_others_go_uncoded():
    roles = ["therapist", "client", "therapist", "client", None]
    assert coded_roles(roles, [True, False, True, False, False]) == ["therapist"]
    assert coded_roles(roles, [True, True, False, False, False]) == ["client", "therapist"]
    # the unit without a role is the only one left out: the coded roles are still named
    assert coded_roles(roles[:4], [True, True, False, False]) is None  # every role is coded
    assert coded_roles(roles, [False] * 5) is None  # nothing coded
    # a coded unit without a role: which roles the humans code cannot be told
    assert coded_roles(roles, [True, False, False, False, True]) is None
    assert coded_roles(["a", float("nan")], [True, False]) == ["a"]


def test_training_and_evaluation_infer_the_same_coded_roles():
    """Training (infer_scheme) and evaluation (roles="gold") ask the same question; one rule answers both."""
    from psythemes.mapping import infer_scheme

    segments = pd.DataFrame({"role": ["therapist", "client", "", "therapist"]})
    assert infer_scheme(segments, [["q"], [], [], ["r"]])["roles"] == ["therapist"]
    assert infer_scheme(segments, [["q"], [], ["q"], ["r"]])["roles"] is None  # a role-less unit is coded
    assert coded_roles(segments["role"], [True, False, True, True]) is None
