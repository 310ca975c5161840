"""Speaker names with lower-case particles (``Anna de Vries``, ``Dr. van Dijk``), as Zoom and typists write them.

Such a label used to fail the label rule (every token had to start with a capital): a Zoom cue
``Anna de Vries: Mm-hmm.`` got the speaker ``""`` with the name left in its words, and in a text
file the interviewer's turns were folded into the participant's, without a warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from psythemes import io
from psythemes.errors import PsythemesWarning
from psythemes.schema import Transcript
from psythemes.segment import segment_transcripts

from turn_checks import assert_turn_offsets  # tests/turn_checks.py

#: A Zoom cloud-recording transcript: numbered cues, "Name: words" in each.
ZOOM_VTT = """WEBVTT

1
00:00:01.230 --> 00:00:04.560
Anna de Vries: Okay, I think the recording is on. Thanks for joining me today.

2
00:00:05.060 --> 00:00:08.390
Marieke Bakker: Sure. I had pain in my lower back for about three years.

3
00:00:08.890 --> 00:00:09.700
Anna de Vries: Mm-hmm.

4
00:00:10.200 --> 00:00:13.530
Marieke Bakker: The scans showed nothing, so the GP suggested this.

5
00:00:14.030 --> 00:00:16.000
Anna de Vries: And how was the first session?

6
00:00:16.500 --> 00:00:19.830
Marieke Bakker: The therapist listened for a long time.
"""

#: The same conversation as Zoom's "Save transcript" text (and typists) write it.
ZOOM_TXT = """Anna de Vries: How did the exercises go this week?
Marieke Bakker: Better, I did the breathing every morning.
Dr. van Dijk: I would add that the therapist noticed that too.
Anna de Vries: And the pain?
Marieke Bakker: Less when I remember to relax my shoulders.
Dr. van Dijk: She did, yes.
"""


def read(path: Path) -> Transcript:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsythemesWarning)
        tr = io.read_transcript(path)
    assert_turn_offsets(tr)
    return tr


def said(tr: Transcript) -> list[tuple[str, str]]:
    return [(t.speaker, tr.text[t.start:t.end]) for t in tr.turns]


def test_zoom_vtt_cue_labels_with_a_name_particle(tmp_path: Path) -> None:
    path = tmp_path / "P02_zoom.vtt"
    path.write_text(ZOOM_VTT, encoding="utf-8")
    tr = read(path)
    assert said(tr) == [
        ("Anna de Vries", "Okay, I think the recording is on. Thanks for joining me today."),
        ("Marieke Bakker", "Sure. I had pain in my lower back for about three years."),
        ("Anna de Vries", "Mm-hmm."),
        ("Marieke Bakker", "The scans showed nothing, so the GP suggested this."),
        ("Anna de Vries", "And how was the first session?"),
        ("Marieke Bakker", "The therapist listened for a long time."),
    ]
    assert [(t.t_start, t.t_end) for t in tr.turns[:3]] == [(1.23, 4.56), (5.06, 8.39), (8.89, 9.7)]
    # the name is the speaker, not words of the turn (it became a theme keyword), and the
    # interviewer's "Mm-hmm." is a backchannel again
    segments = segment_transcripts([tr], unit="turn")
    assert not segments["text"].str.contains("Vries").any()
    assert segments.loc[segments["text"] == "Mm-hmm.", "kind"].tolist() == ["backchannel"]
    assert (segments["text"] == segments.apply(lambda s: tr.text[s["start"]:s["end"]], axis=1)).all()


def test_text_labels_with_name_particles_are_turns_of_their_own(tmp_path: Path) -> None:
    path = tmp_path / "zoom_particles.txt"
    path.write_text(ZOOM_TXT, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)  # every word is in a turn
        tr = io.read_transcript(path)
    assert_turn_offsets(tr)
    assert [t.speaker for t in tr.turns] == ["Anna de Vries", "Marieke Bakker", "Dr. van Dijk", "Anna de Vries",
                                             "Marieke Bakker", "Dr. van Dijk"]
    assert said(tr)[2] == ("Dr. van Dijk", "I would add that the therapist noticed that too.")
    # the same names as a Word hanging indent saved as text: Name<TAB>words
    tabbed = tmp_path / "tabbed.txt"
    tabbed.write_text("".join(line.replace(": ", "\t", 1) for line in ZOOM_TXT.splitlines(keepends=True)),
                      encoding="utf-8")
    assert [t.speaker for t in read(tabbed).turns] == [t.speaker for t in tr.turns]


@pytest.mark.parametrize("label", [
    "Anna de Vries", "Dr. van Dijk", "Ludwig van der Berg", "Jan 't Hooft", "Jan \u2019t Hooft",
    "Ahmed bin Said", "María del Carmen Ruiz", "Dr. Maria van der Berg", "Anna de Vries (Host)",
])
def test_name_particles_between_capitalised_tokens(label: str) -> None:
    text = f"{label}: How are you?\nP1: Tired.\n"
    turns = io.parse_labelled_text(text)
    assert [(t.speaker, text[t.start:t.end]) for t in turns] == [(label, "How are you?"), ("P1", "Tired.")]


@pytest.mark.parametrize("line", [
    "I said to him: no, not again.",      # a sentence: lower-case words that are no particles
    "Mother of two: that is what I am.",
    "de Vries: a particle cannot open a label.",
    "Anna de: nor end one.",
    "The house of de Boer: it was cold.",
    "Then van Dijk: he came in.",
])
def test_sentences_with_particles_stay_text(line: str) -> None:
    text = f"Interviewer: What happened?\nP1: We talked.\n{line}\nInterviewer: And then?\nP1: Nothing.\n"
    turns = io.parse_labelled_text(text)
    assert [t.speaker for t in turns] == ["Interviewer", "P1", "Interviewer", "P1"]
    assert text[turns[1].start:turns[1].end] == f"We talked.\n{line}"


def test_a_place_name_with_a_particle_used_once_is_quoted_speech() -> None:
    """``Casa de Campo:`` has a label's shape; used once among recurring speakers, it stays in the turn."""
    text = ("Anna de Vries: Where did you walk?\nMarieke Bakker: In the park.\nCasa de Campo: the big one.\n"
            "Anna de Vries: Every day?\nMarieke Bakker: Most days.\n")
    turns = io.parse_labelled_text(text)
    assert [t.speaker for t in turns] == ["Anna de Vries", "Marieke Bakker", "Anna de Vries", "Marieke Bakker"]
    assert text[turns[1].start:turns[1].end] == "In the park.\nCasa de Campo: the big one."
