"""Property tests: offsets are exact through every reader and every segmenter.

For readers, the turns built from generated ``(speaker, body)`` pairs come back with the
same speakers and with ``text[turn.start:turn.end]`` equal to the normalised body.  For
segmenters, ``transcript.text[start:end] == text`` for every segment, segments stay inside
their turns, and sentences cover every non-space character of a turn.
"""

from __future__ import annotations

import csv
import json
import tempfile
import unicodedata
import warnings
from itertools import groupby
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from psythemes import io
from psythemes.errors import InputError, PsythemesWarning
from psythemes.schema import Transcript, Turn
from psythemes.segment import segment_transcripts

from turn_checks import assert_turn_offsets  # tests/turn_checks.py

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OFFICE_SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Speakers that pass the default label rule in any combination (ID-like or role words).
SPEAKERS = st.sampled_from(["Interviewer", "P3", "T", "Speaker 2", "INT", "Participant 07"])
# Printable characters of one line: letters, digits, punctuation, symbols, spaces.
LINE_CHARS = st.characters(categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters="\n")
# A body line starts with a lower-case letter so it can never look like a speaker label.
LINE = st.builds(lambda first, rest: first + rest, st.sampled_from("abcdefghijklmnopqrstuvwxyzéü"),
                 st.text(LINE_CHARS, max_size=40))


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def tmpfile(suffix: str) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)
    handle.close()
    return Path(handle.name)


def read_written(content: str, suffix: str) -> Transcript:
    """Write ``content`` (UTF-8) to a temporary file with ``suffix`` and read it back."""
    path = tmpfile(suffix)
    try:
        path.write_bytes(content.encode("utf-8"))
        return io.read_transcript(path)
    finally:
        path.unlink()


def check_round_trip(tr: Transcript, expected: list[tuple[str, str]]) -> None:
    assert_turn_offsets(tr)
    got = [(t.speaker, tr.text[t.start:t.end]) for t in tr.turns]
    assert got == expected


# --- plain text ---------------------------------------------------------------------------

STYLES = st.sampled_from(["colon", "bracket", "otter"])
BODY = st.lists(LINE, min_size=1, max_size=4).flatmap(
    lambda lines: st.sampled_from(["\n", "\n\n"]).map(lambda sep: sep.join(lines)))


@SETTINGS
@given(st.lists(st.tuples(SPEAKERS, BODY, STYLES), min_size=1, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_text_reader_round_trip(turns: list[tuple[str, str, str]], newline: str) -> None:
    parts = []
    for i, (speaker, body, style) in enumerate(turns):
        if style == "colon":
            parts.append(f"{speaker}: {body}")
        elif style == "bracket":
            parts.append(f"[00:{i:02d}:05] {speaker}: {body}")
        else:
            parts.append(f"{speaker}  {i}:07\n{body}")
    path = tmpfile(".txt")
    try:
        path.write_bytes("\n".join(parts).replace("\n", newline).encode("utf-8"))
        tr = io.read_transcript(path)
    finally:
        path.unlink()
    check_round_trip(tr, [(s, nfc(b).strip()) for s, b, _ in turns])


# Export styles of issue #14: Zoom "Name (Role):", Zoom chat "time<TAB>Name:<TAB>", Markdown
# "### Name" headings, bracketed ids "[P3]:" / "[P3] ", WhisperX "SPEAKER_00:".
EXPORT_STYLES = st.sampled_from(["role", "chat", "heading", "bracket_colon", "bracket_bare", "whisperx"])


@SETTINGS
@given(st.lists(st.tuples(SPEAKERS, BODY, EXPORT_STYLES), min_size=1, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_text_reader_export_styles_round_trip(turns: list[tuple[str, str, str]], newline: str) -> None:
    parts, expected = [], []
    for i, (speaker, body, style) in enumerate(turns):
        label = speaker
        if style == "role":
            label = f"{speaker} (Guest)"
            parts.append(f"{label}: {body}")
        elif style == "chat":
            parts.append(f"00:{i:02d}:05\t{speaker}:\t{body}")
        elif style == "heading":
            parts.append(f"### {speaker}\n\n{body}")
        elif style == "bracket_colon":
            parts.append(f"[{speaker}]: {body}")
        elif style == "bracket_bare":
            parts.append(f"[{speaker}] {body}")
        else:
            label = f"SPEAKER_{i % 3:02d}"
            parts.append(f"{label}: {body}")
        expected.append((label, nfc(body).strip()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every word is in a turn: no coverage warning
        tr = read_written("\n".join(parts).replace("\n", newline), ".txt")
    check_round_trip(tr, expected)


@SETTINGS
@given(st.text(st.characters(categories=("L", "M", "N", "P", "S", "Z"), include_characters="\n\t:[]()"),
               max_size=300))
def test_text_reader_arbitrary_text(text: str) -> None:
    path = tmpfile(".txt")
    try:
        path.write_bytes(text.encode("utf-8"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                tr = io.read_transcript(path)
            except InputError as err:
                if "nothing was said" in str(err):  # speaker labels only
                    assert io.normalise_text(text).strip()
                else:
                    assert "empty" in str(err)
                    assert not io.normalise_text(text).strip()
                return
    finally:
        path.unlink()
    assert tr.text == io.normalise_text(text)
    assert tr.turns
    assert_turn_offsets(tr)


# --- subtitles ----------------------------------------------------------------------------

CUE_TEXT = st.text(st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="<>&{}-"),
                   min_size=1, max_size=40).filter(lambda s: s.strip())


def merged(turns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(s, " ".join(nfc(b).strip() for _, b in grp)) for s, grp in groupby(turns, key=lambda x: x[0])]


def timestamp(ms: int, sep: str) -> str:
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


@SETTINGS
@given(st.lists(st.tuples(SPEAKERS, CUE_TEXT), min_size=1, max_size=8), st.booleans())
def test_vtt_reader_round_trip(cues: list[tuple[str, str]], voice_tags: bool) -> None:
    lines = ["WEBVTT", ""]
    for i, (speaker, body) in enumerate(cues):
        lines.append(f"{timestamp(i * 2000, '.')} --> {timestamp(i * 2000 + 1500, '.')}")
        lines.append(f"<v {speaker}>{body}" if voice_tags else f"{speaker}: {body}")
        lines.append("")
    path = tmpfile(".vtt")
    try:
        path.write_text("\n".join(lines), encoding="utf-8")
        tr = io.read_transcript(path)
    finally:
        path.unlink()
    check_round_trip(tr, merged(cues))
    assert tr.turns[0].t_start == 0.0
    assert tr.turns[-1].t_end == ((len(cues) - 1) * 2000 + 1500) / 1000


CUE_LABELS = st.sampled_from(["{s}: ", "{s} (Guest): ", "[{s}]: "])


@SETTINGS
@given(st.lists(st.tuples(SPEAKERS, CUE_TEXT, CUE_LABELS), min_size=1, max_size=8), st.sampled_from(["vtt", "srt"]))
def test_subtitle_cue_label_styles_round_trip(cues: list[tuple[str, str, str]], fmt: str) -> None:
    """Zoom ``Name (Role):`` and WhisperX ``[SPEAKER_00]:`` cue labels, in WebVTT and SRT."""
    sep = "." if fmt == "vtt" else ","
    blocks = ["WEBVTT\n"] if fmt == "vtt" else []
    labelled = []
    for i, (speaker, body, form) in enumerate(cues):
        label = form.format(s=speaker)
        blocks.append(f"{i + 1}\n{timestamp(i * 2000, sep)} --> {timestamp(i * 2000 + 1500, sep)}\n{label}{body}\n")
        labelled.append((f"{speaker} (Guest)" if "(Guest)" in form else speaker, body))
    check_round_trip(read_written("\n".join(blocks), f".{fmt}"), merged(labelled))


WORD = st.text(st.characters(categories=("Ll",)), min_size=1, max_size=8).map(nfc)


@SETTINGS
@given(st.lists(st.lists(WORD, min_size=1, max_size=6).map(" ".join), min_size=1, max_size=8, unique=True),
       st.booleans())
def test_youtube_rolling_vtt_round_trip(lines: list[str], blankish: bool) -> None:
    """Rolling auto-captions (previous line repeated, 10 ms repeat cues, inline timings): each line once."""
    out = ["WEBVTT", "Kind: captions", "Language: en", ""]
    ms = 0
    for i, line in enumerate(lines):
        words = line.split(" ")
        timed = words[0] + "".join(f"<{timestamp(ms + 100 * (k + 1), '.')}><c> {w}</c>"
                                   for k, w in enumerate(words[1:]))
        shown = ([lines[i - 1]] if i else [" "] if blankish else []) + [timed]
        out += [f"{timestamp(ms, '.')} --> {timestamp(ms + 2000, '.')} align:start position:0%", *shown, ""]
        out += [f"{timestamp(ms + 2000, '.')} --> {timestamp(ms + 2010, '.')} align:start position:0%", line,
                " " if blankish else "", ""]
        ms += 2010
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsythemesWarning)
        tr = read_written("\n".join(out), ".vtt")
    check_round_trip(tr, [("", " ".join(lines))])


@SETTINGS
@given(st.lists(st.tuples(SPEAKERS, CUE_TEXT), min_size=1, max_size=8))
def test_srt_reader_round_trip(cues: list[tuple[str, str]]) -> None:
    blocks = [f"{i + 1}\n{timestamp(i * 2000, ',')} --> {timestamp(i * 2000 + 1500, ',')}\n{s}: {b}\n"
              for i, (s, b) in enumerate(cues)]
    path = tmpfile(".srt")
    try:
        path.write_text("\n".join(blocks), encoding="utf-8")
        tr = io.read_transcript(path)
    finally:
        path.unlink()
    check_round_trip(tr, merged(cues))


# --- office documents ---------------------------------------------------------------------

OFFICE_TURNS = st.lists(st.tuples(SPEAKERS, LINE), min_size=1, max_size=6)


@OFFICE_SETTINGS
@given(OFFICE_TURNS)
def test_docx_reader_round_trip(turns: list[tuple[str, str]]) -> None:
    import docx

    document = docx.Document()
    for speaker, body in turns:
        document.add_paragraph(f"{speaker}: {body}")
    path = tmpfile(".docx")
    try:
        document.save(str(path))
        tr = io.read_transcript(path)
    finally:
        path.unlink()
    check_round_trip(tr, [(s, nfc(b).strip()) for s, b in turns])


@OFFICE_SETTINGS
@given(OFFICE_TURNS)
def test_odt_reader_round_trip(turns: list[tuple[str, str]]) -> None:
    from odf import teletype
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    document = OpenDocumentText()
    for speaker, body in turns:
        para = P()
        teletype.addTextToElement(para, f"{speaker}: {body}")  # writes runs of spaces as <text:s>
        document.text.addElement(para)
    path = tmpfile(".odt")
    try:
        document.save(str(path))
        tr = io.read_transcript(path)
    finally:
        path.unlink()
    check_round_trip(tr, [(s, nfc(b).strip()) for s, b in turns])


# --- tables -------------------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Z"), include_characters="\n\r\t"),
                   max_size=60)
ANY_SPEAKER = st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=15)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), ANY_SPEAKER, ANY_TEXT), min_size=1, max_size=10),
       st.sampled_from(["csv", "tsv", "jsonl"]))
def test_table_reader_round_trip(rows: list[tuple[str, str, str]], fmt: str) -> None:
    expected: dict[str, list[tuple[str, str]]] = {}  # documents in order of their first row
    for doc, speaker, body in rows:
        turns = expected.setdefault(doc, [])
        if io.normalise_text(body).strip():
            turns.append((nfc(speaker.strip()), io.normalise_text(body).strip()))
    expected = {doc: turns for doc, turns in expected.items() if turns}
    assume(expected)
    path = tmpfile(f".{fmt}")
    try:
        with path.open("w", encoding="utf-8", newline="") as fh:
            if fmt == "jsonl":
                for doc, speaker, body in rows:
                    fh.write(json.dumps({"doc_id": doc, "speaker": speaker, "text": body}) + "\n")
            else:
                writer = csv.writer(fh, delimiter="\t" if fmt == "tsv" else ",")
                writer.writerow(["doc_id", "speaker", "text"])
                writer.writerows(rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # documents without text are skipped with a warning
            trs = io.read_transcripts([path])
    finally:
        path.unlink()
    assert [t.doc_id for t in trs] == list(expected)
    for tr in trs:
        check_round_trip(tr, expected[tr.doc_id])


# --- segmenters ---------------------------------------------------------------------------

SEG_BODY = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Z"), include_characters="\n\t.!?"),
                   min_size=1, max_size=120).filter(lambda s: s.strip())


@st.composite
def transcripts(draw: st.DrawFn) -> Transcript:
    pairs = draw(st.lists(st.tuples(st.sampled_from(["Interviewer", "P1", "P2"]), SEG_BODY), min_size=1,
                          max_size=8))
    text, turns = "", []
    for speaker, body in pairs:
        body = io.normalise_text(body)
        start, end = io.strip_span(body, 0, len(body))
        if start == end:
            continue
        offset = len(text) + len(speaker) + 2
        turns.append(Turn(speaker, offset + start, offset + end))
        text += f"{speaker}: {body}\n"
    assume(turns)
    return Transcript(doc_id="d", text=text, turns=turns)


@SETTINGS
@given(transcripts(), st.sampled_from(["turn", "sentence", "window"]), st.integers(1, 4), st.integers(1, 3),
       st.sampled_from(["keep", "drop", "merge"]), st.sampled_from(["keep", "drop"]))
def test_segment_offsets(tr: Transcript, unit: str, size: int, stride: int, backchannels: str,
                         interviewer: str) -> None:
    kept, dropped = segment_transcripts([tr], unit=unit, window_size=size, stride=stride,
                                        backchannels=backchannels, interviewer=interviewer, return_dropped=True)
    for frame in (kept, dropped):
        for row in frame.itertuples():
            assert tr.text[row.start:row.end] == row.text
            assert row.text and row.text == row.text.strip()
            turn = tr.turns[row.turn_index]
            assert row.start >= turn.start and row.speaker == turn.speaker
            if unit != "window":
                assert row.end <= turn.end
    assert kept["segment_id"].is_unique


@SETTINGS
@given(transcripts())
def test_sentences_cover_turns(tr: Transcript) -> None:
    frame = segment_transcripts([tr], unit="sentence")
    covered: set[int] = set()
    for row in frame.itertuples():
        assert not covered & set(range(row.start, row.end))  # no overlap
        covered.update(range(row.start, row.end))
    for turn in tr.turns:
        assert all(tr.text[i].isspace() or i in covered for i in range(turn.start, turn.end))


@pytest.mark.parametrize("name", ["example_otter.txt", "example_interview.txt", "example_zoom.vtt",
                                  "example_voice.vtt", "example.srt", "example_interview.docx", "example.odt",
                                  "example_utterances.csv", "example_utterances.jsonl",
                                  # export styles of issue #14 (tests/data/styles/)
                                  "styles/youtube_auto.vtt", "styles/teams.vtt", "styles/zoom_roles.txt",
                                  "styles/zoom_chat.txt", "styles/whisperx.txt", "styles/markdown_headings.md",
                                  "styles/qualcoder_ids.txt", "styles/leading_label.txt",
                                  "styles/unpunctuated.vtt", "styles/zoom_roles.vtt", "styles/whisperx.srt"])
@pytest.mark.parametrize("unit", ["turn", "sentence", "window"])
def test_examples_through_every_segmenter(data_dir: Path, name: str, unit: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsythemesWarning)
        trs = io.read_transcripts([data_dir / name])
        frame = segment_transcripts(trs, unit=unit, backchannels="merge")
    by_id = {t.doc_id: t for t in trs}
    assert len(frame) > 0
    assert all(by_id[r.doc_id].text[r.start:r.end] == r.text for r in frame.itertuples())
