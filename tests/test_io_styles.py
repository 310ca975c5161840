"""Real-world export styles (issue #14): one small fixture per style, written for these tests.

Fixtures live in tests/data/styles/; none is copied from a third-party transcript.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from psythemes import io
from psythemes.errors import PsythemesWarning
from psythemes.schema import Transcript, Turn
from psythemes.segment import FALLBACK_WINDOW_WORDS, segment_transcripts

from turn_checks import assert_turn_offsets  # tests/turn_checks.py

STYLES = Path(__file__).parent / "data" / "styles"


def read(name: str, **kwargs) -> Transcript:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsythemesWarning)
        tr = io.read_transcript(STYLES / name, **kwargs)
    assert_turn_offsets(tr)
    return tr


def said(tr: Transcript) -> list[tuple[str, str]]:
    return [(t.speaker, tr.text[t.start:t.end]) for t in tr.turns]


def as_word_document(source: Path, target: Path) -> Path:
    """``source``'s lines as the paragraphs of a .docx, without empty paragraphs (as Word users write)."""
    docx = pytest.importorskip("docx")
    document = docx.Document()
    for line in source.read_text(encoding="utf-8").splitlines():
        if line:
            document.add_paragraph(line)
    document.save(target)
    return target


def test_youtube_auto_captions_each_word_once():
    with pytest.warns(PsythemesWarning, match="rolling auto-captions: 4 repeated caption lines"):
        tr = io.read_transcript(STYLES / "youtube_auto.vtt")
    assert_turn_offsets(tr)
    assert tr.text == "welcome back to the channel today i want to talk about living with chronic pain\n"
    assert "<" not in tr.text and [t.speaker for t in tr.turns] == [""]
    assert tr.turns[0].t_start == 0.0 and tr.turns[0].t_end == 7.8


def test_plain_vtt_with_a_repeated_short_cue_is_not_deduplicated(tmp_path):
    path = tmp_path / "yes.vtt"
    path.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nP1: No.\n\n00:00:03.000 --> 00:00:04.000\n"
                    "P1: No.\n\n00:00:05.000 --> 00:00:06.000\nP1: Never.\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = io.read_transcript(path)
    assert said(tr) == [("P1", "No. No. Never.")]


def test_teams_voice_tags_with_roles():
    tr = read("teams.vtt")
    assert said(tr) == [
        ("Maria Lopez (Guest)", "Thanks for having me."),
        ("Sam Okafor (Organizer)", "Could you start with how it began?"),
        ("Maria Lopez (Guest)", "It began after the move, I think."),
    ]


def test_zoom_labels_with_role_in_parentheses_or_brackets():
    tr = read("zoom_roles.txt")
    assert [t.speaker for t in tr.turns] == ["Jane Doe (SL)", "Amir Haddad", "Jane Doe (SL)", "Amir Haddad",
                                             "Chris Bell [Researcher]", "Amir Haddad"]
    assert said(tr)[4][1] == "Did the walking change how you slept?"
    assert io.role_of("Chris Bell [Researcher]") == "interviewer"
    assert io.role_of("Jo Park (Host)") == "interviewer"
    assert io.role_of("Jane Doe (SL)") == ""


def test_zoom_vtt_cue_labels_with_roles():
    tr = read("zoom_roles.vtt")
    assert said(tr) == [
        ("Jane Doe (SL)", "Thanks everyone for joining. Could you say how the first weeks went?"),
        ("Amir Haddad", "Slow, honestly. I kept waiting for the pain to settle."),
        ("Chris Bell [Researcher]", "Did the walking change how you slept?"),
    ]


def test_whisperx_subtitles_with_bracketed_speakers():
    tr = read("whisperx.srt")
    assert said(tr) == [("SPEAKER_00", "So when did you first notice the tiredness?"),
                        ("SPEAKER_01", "Around the spring, after the flu.")]
    assert tr.turns[1].t_start == 3.9


def test_zoom_chat_export_keeps_timestamps_out_of_the_text():
    tr = read("zoom_chat.txt")
    assert said(tr) == [
        ("Jane Doe", "Welcome, the link to the consent form is in the invite"),
        ("Amir Haddad", "thanks, signed it this morning"),
        ("Jane Doe", "We will take a short break at 3pm"),
        ("Amir Haddad", "ok 👍"),
    ]
    assert [t.t_start for t in tr.turns] == [41.0, 65.0, 432.0, 450.0]


def test_zoom_chat_newer_from_to_form():
    text = ("00:01:02 From Jane Doe to Everyone:\n\tSee you all at ten\n"
            "00:01:15 From Amir Haddad to Everyone:\n\tthanks!\n")
    turns = io.parse_labelled_text(text)
    assert [(t.speaker, text[t.start:t.end]) for t in turns] == [("Jane Doe", "See you all at ten"),
                                                                 ("Amir Haddad", "thanks!")]


def test_whisperx_speaker_labels():
    tr = read("whisperx.txt")
    assert [t.speaker for t in tr.turns] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00", "SPEAKER_01"]
    assert said(tr)[3][1] == "No. Some weeks were better, but it stayed."


def test_markdown_headings_as_speakers():
    with pytest.warns(PsythemesWarning, match="4 of 28 words lie outside every speaker turn"):
        tr = io.read_transcript(STYLES / "markdown_headings.md")
    assert said(tr) == [
        ("Interviewer", "How have the last months been?"),
        ("Participant", "Better than the winter. I started swimming again,\ntwice a week."),
        ("Interviewer", "What made you start?"),
    ]


def test_qualcoder_ids_and_bracketed_labels():
    tr = read("qualcoder_ids.txt")
    assert said(tr) == [
        ("id1", "Tell me about the group sessions."),
        ("id2", "They were the best part. [Laughter] Really."),
        ("id1", "Why the best?"),
        ("id2", "Nobody had to explain anything."),
        ("Interviewer", "Anything you would change?"),
        ("P2", "Maybe shorter breaks."),
    ]


def test_transcriber_notes_in_brackets_are_not_speakers():
    text = ("[Laughter] that was funny\n(Inaudible) something about the bus\n[Crosstalk]\n[BLANK_AUDIO]\n"
            "[MUSIC] playing\n(Pause) then\n[NOTE THIS] later\n")
    with pytest.warns(PsythemesWarning, match="no speaker labels"):
        turns = io.parse_labelled_text(text)
    assert {t.speaker for t in turns} == {""}


def test_leading_label_used_once_is_a_turn():
    tr = read("leading_label.txt")
    assert said(tr)[0] == ("Unknown Speaker", "okay it's recording now, so whenever you're ready.")
    assert len(tr.turns) == 5


def test_document_without_labels_gives_a_turn_per_paragraph_docx(tmp_path):
    docx = pytest.importorskip("docx")
    paragraphs = ["The patient described a long history of back pain.",
                  "She said the pain worsens with stress at work.",
                  "Fatigue has become her main complaint."]
    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    path = tmp_path / "notes.docx"
    document.save(path)
    with pytest.warns(PsythemesWarning, match="each of the 3 paragraphs becomes a turn"):
        tr = io.read_transcript(path)
    assert_turn_offsets(tr)
    assert [tr.text[t.start:t.end] for t in tr.turns] == paragraphs


def test_text_without_labels_keeps_blank_line_paragraphs():
    text = "First paragraph,\nwrapped over two lines.\n\nSecond paragraph.\n"
    with pytest.warns(PsythemesWarning, match="2 paragraphs"):
        turns = io.parse_labelled_text(text)
    assert [text[t.start:t.end] for t in turns] == ["First paragraph,\nwrapped over two lines.", "Second paragraph."]


def test_coverage_check_counts_words_outside_turns(monkeypatch):
    text = "Interview 3, clinic B\nInterviewer: Hello.\nP1: Hi there.\n"
    # the words themselves only with --verbose (PSYTHEMES_VERBOSE): warnings carry no transcript text
    monkeypatch.delenv("PSYTHEMES_VERBOSE", raising=False)
    with pytest.warns(PsythemesWarning, match=r"4 of 9 words lie outside every speaker turn and") as caught:
        io.parse_labelled_text(text)
    assert "clinic" not in str(caught[0].message)
    monkeypatch.setenv("PSYTHEMES_VERBOSE", "1")
    with pytest.warns(PsythemesWarning, match=r"4 of 9 words lie outside every speaker turn .*'Interview 3 clinic B'"):
        io.parse_labelled_text(text)
    assert io.uncovered_words("a b c", [(0, 1), (4, 5)]) == ["b"]


def test_segment_coverage_check_names_lost_words():
    from psythemes.segment import words_outside_segments

    tr = Transcript("d", "P1: one two three\n", turns=[Turn("P1", 4, 17)])
    assert words_outside_segments(tr, [(4, 7)]) == 2
    assert words_outside_segments(tr, [(4, 17)]) == 0


def test_unpunctuated_text_falls_back_to_word_windows():
    tr = read("unpunctuated.vtt")
    with pytest.warns(PsythemesWarning, match=r"1 sentence\(s\) longer than 80 words .* windows of 40 words"):
        segments = segment_transcripts([tr], unit="sentence")
    sizes = [len(t.split()) for t in segments["text"]]
    assert max(sizes) <= FALLBACK_WINDOW_WORDS and sum(sizes) == len(tr.text.split())
    for rec in segments.itertuples():
        assert tr.text[rec.start:rec.end] == rec.text


def test_punctuated_text_keeps_its_sentences():
    tr = Transcript("d", "P1: One. Two words. Three more words.\n", turns=[Turn("P1", 4, 37)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        segments = segment_transcripts([tr], unit="sentence")
    assert list(segments["text"]) == ["One.", "Two words.", "Three more words."]


def test_common_interviewer_labels():
    for label in ["Interviewer", "Interviewer 2", "I", "I1", "Q", "Moderator", "Facilitator", "Researcher",
                  "Research Team", "Host", "INT", "IV"]:
        assert io.role_of(label) == "interviewer", label
    for label in ["Participant", "P1", "Quentin", "Hostess", "SPEAKER_00"]:
        assert io.role_of(label) != "interviewer", label


def test_warns_when_no_speaker_is_the_interviewer():
    with pytest.warns(PsythemesWarning, match=r"no speaker recognised as the interviewer .*whisperx \(SPEAKER_00, "
                                              r"SPEAKER_01\).*--speaker-roles"):
        io.read_transcripts([STYLES / "whisperx.txt"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        io.read_transcripts([STYLES / "whisperx.txt"], speaker_roles="SPEAKER_00=interviewer,SPEAKER_01=patient")


def test_warns_when_two_speakers_share_a_participant_role(tmp_path):
    (tmp_path / "s01.txt").write_text("Therapist: How was the week?\nClient: Long. My neck was stiff.\n",
                                      encoding="utf-8")
    meta = tmp_path / "metadata.csv"
    meta.write_text("doc_id,role\ns01,patient\nzoom_roles,patient\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        io.read_transcripts([tmp_path / "s01.txt", STYLES / "zoom_roles.txt"], metadata=meta)
    messages = [str(w.message) for w in caught]
    assert any("same participant role" in m and "s01 (Therapist, Client are all 'patient')" in m for m in messages)
    # clinical labels need no interviewer; a focus group beside a recognised interviewer
    # ('Chris Bell [Researcher]') may have several participants
    assert not any("no speaker recognised" in m or "zoom_roles" in m for m in messages)


def test_format_help_lists_every_reader():
    from typer.testing import CliRunner

    from psythemes.cli import app
    from psythemes.cli._app import FORMAT_HELP, FORMAT_NAMES

    assert FORMAT_NAMES == tuple(io.READERS)  # the help's list is the readers' list

    assert all(name in FORMAT_HELP for name in io.READERS)
    for command in ("segment", "extract"):
        result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "400"})
        assert result.exit_code == 0
        assert ", ".join(io.READERS) in " ".join(result.output.split()), command


def test_segment_coverage_warning_fires_when_a_segmenter_loses_words(monkeypatch):
    from psythemes import segment

    real = segment.SentenceSegmenter.sentence_spans

    def lossy(self, transcript, infos):  # a segmenter bug: the last sentence of every turn vanishes
        return [spans[:-1] for spans in real(self, transcript, infos)]

    monkeypatch.setattr(segment.SentenceSegmenter, "sentence_spans", lossy)
    tr = Transcript("d", "P1: One two. Three four five.\n", turns=[Turn("P1", 4, 29)])
    with pytest.warns(PsythemesWarning, match="d: 3 of 5 words of its turns are in no segment"):
        segment_transcripts([tr], unit="sentence")


def test_f4_maxqda_time_marks_end_the_turn_and_a_header_block_is_not_a_turn():
    # f4/f5 and MAXQDA write "#hh:mm:ss-d#" at the end of each paragraph; a title block of
    # "Key: value" lines sits above the first turn
    with pytest.warns(PsythemesWarning, match="10 of 91 words lie outside every speaker turn"):
        tr = io.read_transcript(STYLES / "f4_time_marks.txt")
    assert_turn_offsets(tr)
    assert said(tr)[:2] == [("I", "Thank you for taking part again. How have the last months been?"),
                            ("B", "Better than last time. The tension in my neck comes less often.")]
    assert len(tr.turns) == 6 and not any("#" in tr.text[t.start:t.end] for t in tr.turns)
    assert [t.t_end for t in tr.turns] == [4.2, 12.8, 16.0, 27.5, 30.0, 34.1]
    assert tr.text.startswith("Interview: P07")  # the source text is kept as it is


def test_a_time_mark_alone_after_a_label_gives_no_turn():
    turns = io.parse_labelled_text("I: Hello there. #00:00:02-0#\nB: #00:00:03-1#\nI: Anyone? #00:00:09-9#\n"
                                   "B: Yes. #00:00:10-0#\n")
    assert [(t.speaker, t.t_end) for t in turns] == [("I", 2.0), ("I", 9.9), ("B", 10.0)]


def test_word_transcribe_time_then_speaker_on_its_own_line(tmp_path):
    tr = read("word_transcribe.txt")
    expected = [("Speaker 1", 0.0), ("Speaker 2", 7.0), ("Speaker 1", 16.0), ("Speaker 2", 62.0)]
    assert [(t.speaker, t.t_start) for t in tr.turns] == expected
    assert said(tr)[1][1] == "It started after my second child. At first I thought it was just tiredness."
    # Word saves the same export as .docx: one paragraph per line, no blank paragraphs
    from_word = io.read_transcript(as_word_document(STYLES / "word_transcribe.txt", tmp_path / "transcribe.docx"))
    assert [(t.speaker, t.t_start) for t in from_word.turns] == expected


def test_a_bracketed_time_opening_the_words_is_the_start_time_not_text():
    tr = read("sonix_times.txt")
    assert [t.t_start for t in tr.turns] == [3.0, 8.0, 19.0, 22.0]
    assert said(tr)[0] == ("Interviewer", "How were the first sessions?")
    assert said(tr)[2] == ("Interviewer", "(laughs) Strange how?")  # a note in brackets stays text


def test_a_time_alone_on_the_line_before_a_label_is_that_turns_start():
    """Transcription services and editors often put the time on its own line above the speaker
    (``00:00:17`` / ``[00:00:44]``); it used to end the previous turn's text."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)  # no word is left outside a turn
        tr = io.read_transcript(STYLES / "time_lines.txt")
    assert_turn_offsets(tr)
    assert [(t.speaker, t.t_start) for t in tr.turns] == [("Interviewer", 0.0), ("PATIENT", 9.0),
                                                          ("Interviewer", 21.0), ("PATIENT", 27.0)]
    assert not any(":" in tr.text[t.start:t.end].replace("Interviewer:", "") for t in tr.turns)
    assert said(tr)[1][1] == "Better in the mornings. In the evenings it still locks up when I sit too long."


def test_a_time_line_inside_a_turn_stays_text():
    turns = io.parse_labelled_text("Ann: We met at\n10:30\nand talked.\nBen: Right.\nAnn: Yes.\nBen: Fine.\n")
    assert [(t.speaker, t.t_start) for t in turns] == [("Ann", None), ("Ben", None), ("Ann", None), ("Ben", None)]
    assert turns[0].end - turns[0].start == len("We met at\n10:30\nand talked.")


def test_markdown_bold_labels_with_a_time_range():
    tr = read("markdown_bold.md")
    assert [(t.speaker, t.t_start, t.t_end) for t in tr.turns] == [
        ("Interviewer", 4.0, 11.0), ("Participant 4", 12.0, 30.0), ("Interviewer", 31.0, 35.0),
        ("Participant 4", None, None)]
    assert said(tr)[1][1] == "That my shoulders go up when I am stressed. Now I catch it earlier."
    assert not any("*" in text for _, text in said(tr))


def test_nvivo_transcript_entries_exported_as_a_tab_separated_txt():
    """NVivo exports a media file's transcript entries as a .txt table (Timespan, Content, Speaker)."""
    with pytest.warns(PsythemesWarning, match="read as a tab-separated table.*Timespan, Content, Speaker"):
        (tr,) = io.read_transcripts([STYLES / "nvivo_entries.txt"])
    assert_turn_offsets(tr)
    assert [(t.speaker, t.t_start, t.t_end) for t in tr.turns] == [
        ("Interviewer", 0.0, 7.5), ("Participant 6", 7.5, 19.2), ("Interviewer", 19.2, 23.0),
        ("Participant 6", 23.0, 31.4)]
    assert said(tr)[3][1] == "The slow breathing we practised. It does not go away, but it gets smaller."
    # asked for as labelled text, it is read as such (no speaker labels in it: paragraphs)
    as_text = read("nvivo_entries.txt", format="text")
    assert {t.speaker for t in as_text.turns} == {""}


def test_a_tab_in_the_first_line_of_a_labelled_text_is_not_a_table():
    tr = read("zoom_chat.txt")  # 00:01:05<TAB>Name:<TAB>message: labels, not a header
    assert tr.format == "text" and all(t.speaker for t in tr.turns)


def test_a_timespan_cell_that_is_not_a_span_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("Timespan\tContent\tSpeaker\n0:00 - 0:05 - 0:09\tHello.\tAnn\n", encoding="utf-8")
    with pytest.raises(io.InputError, match="not a time span"):
        io.read_transcripts([path])


def test_capitalised_labels_ended_by_a_tab():
    """Word's hanging-indent layout saved as text: INTERVIEWER<TAB>words, RESPONDENT 1<TAB>words."""
    with pytest.warns(PsythemesWarning, match="4 of 71 words lie outside"):  # the title line
        tr = io.read_transcript(STYLES / "tab_labels.txt")
    assert_turn_offsets(tr)
    assert [t.speaker for t in tr.turns] == ["INTERVIEWER", "RESPONDENT 1", "INTERVIEWER", "RESPONDENT 1",
                                             "NURSE", "RESPONDENT 1"]
    # a tab-indented paragraph continues the turn above; "NURSE" is used once but names a role
    assert said(tr)[1][1].endswith("\tAnd the exercises helped: the breathing, mostly.")
    assert said(tr)[4][1] == "Sorry to interrupt, your taxi is here."
    assert io.speaker_role_map(tr)["INTERVIEWER"] == "interviewer"


def test_word_labels_with_a_note_in_brackets_ended_by_a_tab(tmp_path):
    """A focus group typed in Word with a hanging indent, each participant's demographics after
    the id: ``P2 (male, 61)<TAB>words``.  The participants' paragraphs used to fold silently into
    the moderator's turns; the note now stays part of the speaker, as in ``P2 (male, 61): words``."""
    docx = pytest.importorskip("docx")
    rows = [("Moderator", "What did the therapist do differently from your GP?"),
            ("P2 (male, 61)", "She took the time. My GP said: it's all in your head."),
            ("P3 (female, 54)", "For me the exercises. Lying down, feeling the weight of my arms."),
            ("Moderator", "And did the talking help?"),
            ("P2 (male, 61)", "Together, yes. Talking first, then the exercise."),
            ("P4 (female, 29)", "I agree with both of you.")]  # used once: the digits make it an id
    read_back = {}
    for name, separator in (("tab", "\t"), ("colon", ": ")):
        document = docx.Document()
        for speaker, words in rows:
            document.add_paragraph(f"{speaker}{separator}{words}")  # python-docx writes "\t" as <w:tab/>
        document.save(tmp_path / f"FG02_{name}.docx")
        with warnings.catch_warnings():
            warnings.simplefilter("error", PsythemesWarning)  # every word in a turn, the moderator found
            read_back[name] = io.read_transcripts([tmp_path / f"FG02_{name}.docx"])[0]
        assert_turn_offsets(read_back[name])
    assert said(read_back["tab"]) == rows
    assert said(read_back["tab"]) == said(read_back["colon"])
    assert io.speaker_role_map(read_back["tab"])["Moderator"] == "interviewer"


def test_a_first_cell_and_a_tab_used_once_is_not_a_label(tmp_path):
    path = tmp_path / "table.txt"
    path.write_text("Timespan\tnotes for the team\nWe met twice. Both went well.\n", encoding="utf-8")
    with pytest.warns(PsythemesWarning, match="no speaker labels found"):
        tr = io.read_transcript(path)
    assert {t.speaker for t in tr.turns} == {""}


def test_line_numbers_are_removed_and_labels_found_after_them():
    """A transcript numbered for citing: 1<TAB>I: ..., a continuation line numbered too."""
    with pytest.warns(PsythemesWarning, match="numbers at the start of 7 lines were taken for line numbers"):
        tr = io.read_transcript(STYLES / "line_numbers.txt")
    assert_turn_offsets(tr)
    assert [t.speaker for t in tr.turns] == ["I", "R", "I", "R", "I", "R"]
    assert said(tr)[3][1] == "The breathing. And she listened, really listened,\nnot like my GP."
    assert not any(ch.isdigit() for ch in tr.text)


@pytest.mark.parametrize("text", [
    "2019 was a hard year.\nI: How so?\nR: Work.\nI: And now?\nR: Better.\n",   # a year opens one line
    "1 I: Yes.\n5 R: No.\n9 I: Maybe.\n2 R: So.\n40 I: Then.\n7 R: Fine.\n",     # numbers that do not count
])
def test_numbers_that_are_not_line_numbers_stay(text):
    assert io.strip_line_numbers(text) == (text, 0)


def test_word_tracked_changes_are_read_as_accepted(tmp_path):
    """A transcript corrected with Track Changes on: inserted words count, deleted ones do not."""
    docx = pytest.importorskip("docx")
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    def tracked(kind, text):
        change = OxmlElement(f"w:{kind}")
        for key, value in (("w:id", "1"), ("w:author", "JB"), ("w:date", "2025-01-01T00:00:00Z")):
            change.set(qn(key), value)
        run, content = OxmlElement("w:r"), OxmlElement("w:t" if kind == "ins" else "w:delText")
        content.text = text
        content.set(qn("xml:space"), "preserve")
        run.append(content)
        change.append(run)
        return change

    document = docx.Document()
    document.add_paragraph("Interviewer: How was it?")
    answer = document.add_paragraph("Participant 3: It was ")
    answer._p.append(tracked("ins", "really "))
    answer.add_run("helpful.")
    question = document.add_paragraph("Interviewer: And the exercises? ")
    question._p.append(tracked("del", "Were they hard?"))
    path = tmp_path / "corrected.docx"
    document.save(path)
    with pytest.warns(PsythemesWarning, match=r"tracked changes, read as if accepted \(1 insertion\(s\) kept, "
                                              r"1 deletion\(s\) left out\)"):
        tr = io.read_transcript(path)
    assert said(tr) == [("Interviewer", "How was it?"), ("Participant 3", "It was really helpful."),
                        ("Interviewer", "And the exercises?")]


# LibreOffice's layout of tracked changes: deleted paragraphs kept apart in text:tracked-changes,
# inserted words inline between change marks, a comment (office:annotation) inside a paragraph
ODT_TRACKED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content xmlns:office="urn:oasis:names:tc:ope'
    'ndocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:dc="ht'
    'tp://purl.org/dc/elements/1.1/" office:version="1.3"><office:body><office:text><text:tracked-changes'
    '><text:changed-region text:id="ct1"><text:deletion><office:change-info><dc:creator>JB</dc:creator><d'
    'c:date>2025-01-01T10:00:00</dc:date></office:change-info><text:p>Were they hard?</text:p></text:dele'
    'tion></text:changed-region><text:changed-region text:id="ct2"><text:insertion><office:change-info><d'
    'c:creator>JB</dc:creator><dc:date>2025-01-01T10:00:00</dc:date></office:change-info></text:insertion'
    '></text:changed-region></text:tracked-changes><text:p>Interviewer: How was it?</text:p><text:p>Parti'
    'cipant 3: It was <text:change-start text:change-id="ct2"/>really <text:change-end text:change-id="ct'
    '2"/>helpful.<office:annotation><dc:creator>JB</dc:creator><text:p>check this quote</text:p></office:'
    'annotation></text:p><text:p>Interviewer: And the exercises? <text:change text:change-id="ct1"/></tex'
    't:p><text:p>Participant 3: Fine.</text:p></office:text></office:body></office:document-content>'
)


def test_opendocument_tracked_changes_are_read_as_accepted(tmp_path):
    import zipfile

    path = tmp_path / "corrected.odt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", ODT_TRACKED)
    with pytest.warns(PsythemesWarning, match=r"tracked changes, read as if accepted \(1 insertion\(s\) kept"):
        tr = io.read_transcript(path)
    assert "Were they hard" not in tr.text and "check this quote" not in tr.text
    assert said(tr)[1] == ("Participant 3", "It was really helpful.")


def test_labels_alone_above_their_blocks():
    """Block layout: the speaker alone on a line, the words below, a blank line between blocks."""
    tr = read("block_labels.txt")
    assert said(tr) == [("Interviewer", "How have you been since the last session?"),
                        ("Participant 2", "Better. The breathing helps."), ("Interviewer", "What changed?"),
                        ("Participant 2", "I notice the tension earlier now.")]


def test_labels_alone_on_their_paragraphs_in_word_without_blank_paragraphs(tmp_path):
    """Word users space paragraphs by format, not by empty paragraphs: the label is its own
    paragraph, the words the next one, and no blank line separates the blocks."""
    spaced = as_word_document(STYLES / "block_labels.txt", tmp_path / "spaced.docx")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)  # labels found: no "no speaker labels" warning
        tr = io.read_transcript(spaced)
    assert_turn_offsets(tr)
    assert said(tr) == said(read("block_labels.txt"))
    # a title paragraph above the first label is not a label, and the first label still is one
    titled = tmp_path / "titled.txt"
    titled.write_text("Interview 4\n" + (STYLES / "block_labels.txt").read_text(encoding="utf-8"), encoding="utf-8")
    tr = io.read_transcript(as_word_document(titled, tmp_path / "titled.docx"))
    assert said(tr) == said(read("block_labels.txt"))


def test_block_labels_with_a_note_and_quoted_speech_in_word(tmp_path):
    """A focus group typed in Word: "P2 (MALE, 61)" alone on its paragraph, the words below, no empty
    paragraphs; one participant quotes her mother ("Mother: ..."), one speaks only once."""
    source = tmp_path / "fg.txt"
    source.write_text(
        "MODERATOR\nWhat did the therapist do differently?\n"
        "P2 (MALE, 61)\nShe took the time.\n"
        "P3 (FEMALE, 54)\nThe exercises.\n"
        "MODERATOR\nAnd the talking?\n"
        "P2 (MALE, 61)\nTalking first, then the exercise.\n"
        "P3 (FEMALE, 54)\nMother: you are too sensitive, she always said.\n"
        "P4 (FEMALE, 29)\nI agree with both of you.\n", encoding="utf-8")
    tr = io.read_transcript(as_word_document(source, tmp_path / "fg.docx"))
    assert_turn_offsets(tr)
    assert said(tr) == [
        ("MODERATOR", "What did the therapist do differently?"), ("P2 (MALE, 61)", "She took the time."),
        ("P3 (FEMALE, 54)", "The exercises."), ("MODERATOR", "And the talking?"),
        ("P2 (MALE, 61)", "Talking first, then the exercise."),
        ("P3 (FEMALE, 54)", "Mother: you are too sensitive, she always said."),
        ("P4 (FEMALE, 29)", "I agree with both of you.")]


@pytest.mark.parametrize("text", [
    "Introduction\nWe met twice.\n\nMethods\nWe talked.\n",          # headings used once: not speakers
    "Mm-hmm.\nShe said so.\n\nMm-hmm.\nAnd then?\n",                    # a sentence, not a label
    # no blank lines: one recurring heading is no dialogue; names listed one per line are no labels
    "Summary\nWe met twice.\nSummary\nWe talked.\n",
    "Attended\nAnna Berg\nBen Cole\nAnna Berg\nBen Cole\nWe talked about the plan.\n",
])
def test_lines_alone_that_are_not_labels_stay_text(tmp_path, text):
    path = tmp_path / "notes.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.warns(PsythemesWarning, match="no speaker labels found"):
        tr = io.read_transcript(path)
    assert {t.speaker for t in tr.turns} == {""}


def test_a_dash_after_a_label_with_a_time_ends_the_label():
    """``INT (00:13) - words`` (hand-typed and some services' exports): with a time beside the
    label, a dash stands for the colon.  It used to find no label at all, so the document's role
    went to every turn, the interviewer's questions included."""
    tr = read("dash_after_time.txt")
    assert [(t.speaker, t.t_start) for t in tr.turns] == [
        ("INT", 13.0), ("RESP", 34.0), ("INT", 70.0), ("RESP", 105.0), ("INT", 134.0), ("RESP", 140.0)]
    assert said(tr)[1][1] == ("At first I did not see the point - talking about my week and then lying on the mat.\n"
                              "But after a few weeks I noticed my shoulders tense up when I have been worrying.")
    assert said(tr)[2][1] == "And the exercises?"
    assert said(tr)[5][1] == "Good - really good."
    assert io.role_of("INT", {"role": "patient"}) == "interviewer"


def test_a_dash_without_a_time_is_not_a_label_end():
    turns = io.parse_labelled_text("Ann: We met - briefly.\nBen: Fine.\nWell - anyway it went on.\nAnn: Yes.\n")
    assert [t.speaker for t in turns] == ["Ann", "Ben", "Ann"]


def test_timed_labels_with_a_note_in_brackets():
    """``[00:00:05] Participant 3 (F, 52):`` as focus-group transcripts have it: each part was read
    alone, but together the turn was glued to the one before (the researcher's words with it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)
        tr = io.read_transcript(STYLES / "timed_labels_with_notes.txt")
    assert_turn_offsets(tr)
    assert [(t.speaker, t.t_start) for t in tr.turns] == [
        ("MODERATOR", 1.0), ("Participant 3 (F, 52)", 5.0), ("Jane Doe (SL)", 9.0),
        ("Dr Helen Fry (Researcher)", 15.0), ("Participant 3 (F, 52)", 19.0), ("Chris Bell [Researcher]", 24.0)]
    assert [io.role_of(t.speaker) for t in tr.turns] == ["interviewer", "", "", "interviewer", "", "interviewer"]
    assert said(tr)[1][1] == "Tired, very tired. [crosstalk] Sorry, go on."


def test_a_line_inside_a_turn_that_opens_like_a_timed_label_is_named():
    # a label psythemes cannot read (its note is too long) would silently join the turn before
    text = ("[00:00:01] Interviewer: How are you?\n\n[00:00:05] Participant 3: Tired.\n\n"
            "[00:00:09] Interviewer: Why?\n\n[00:00:12] Participant 3: Work.\n"
            "[00:00:15] Dr Helen Fry (Research lead, University of Exeter): And money?\n")
    with pytest.warns(PsythemesWarning, match=r"1 line\(s\) inside speaker turns start like a timed speaker label "
                                              r"but were not read as one \(first on line 8"):
        turns = io.parse_labelled_text(text)
    assert len(turns) == 4
    with warnings.catch_warnings():  # a time inside running text is no label
        warnings.simplefilter("error", PsythemesWarning)
        io.parse_labelled_text("[00:00:01] Ann: We met at\n[10:30] and talked: fine.\n[00:00:09] Ben: Right.\n"
                               "[00:00:12] Ann: Yes.\n[00:00:25] Honestly, what I told her was this: keep going.\n")


def test_question_and_answer_labels_of_oral_history_transcripts():
    """``Q.`` / ``A.`` at the start of lines (oral histories, depositions): the whole file was
    one unknown speaker, the interviewer's questions analysed as the participant's words."""
    tr = read("oral_history_q_a.txt")
    assert [t.speaker for t in tr.turns] == ["Q", "A", "Q", "A", "Q", "A"]
    assert said(tr)[1][1] == "After the second child. The doctor said rest,\nand I rested, but it did not go."
    assert said(tr)[3][1] == "The physio. She said: A. breathe, B. let the shoulders drop."
    assert [io.role_of(t.speaker) for t in tr.turns[:2]] == ["interviewer", ""]
    # once each is an initial or a list item, not a dialogue
    with pytest.warns(PsythemesWarning, match="no speaker labels found"):
        turns = io.parse_labelled_text("Q. Smith wrote the report.\nA. Jones read it.\nA. Brown did not.\n")
    assert {t.speaker for t in turns} == {""}
    # beside labels of another form (a hearing: the chair speaks, then counsel asks and the witness answers)
    turns = io.parse_labelled_text("CHAIR: Please begin.\nQ. Your name?\nA. Ann.\nQ. Your job?\nA. Nurse.\n"
                                   "CHAIR: Thank you.\n")
    assert [t.speaker for t in turns] == ["CHAIR", "Q", "A", "Q", "A", "CHAIR"]
    # a leaflet's questions and answers read out inside an interview are what the participant said
    faq = ("Interviewer: What did the leaflet say?\nParticipant: It said:\nQ. Is it in my head?\nA. No.\n"
           "Q. Will it go?\nA. Often.\nInterviewer: And?\nParticipant: I did not believe it.\n"
           "Interviewer: Why?\nParticipant: Too easy.\nInterviewer: I see.\n")
    assert [t.speaker for t in io.parse_labelled_text(faq)] == ["Interviewer", "Participant"] * 3 + ["Interviewer"]


def test_caption_speaker_changes():
    """``>>`` (broadcast and CART captions) and dialogue dashes (two speakers in one subtitle)
    start a new speaker; a cue that names nobody continues the speaker before, as subtitles name
    a speaker only where the speaker changes (it was an unknown speaker of its own, or, without
    any label, the whole file was one turn)."""
    tr = read("broadcast_captions.vtt")
    assert said(tr) == [("", "SO TELL ME HOW THE PAIN STARTED."),
                        ("", "WELL, IT WAS AFTER THE ACCIDENT. I COULDN'T SLEEP FOR WEEKS."),
                        ("DR. SHAH", "AND THE BACK?"), ("", "WORSE."), ("DR. SHAH", "I SEE.")]
    assert [(t.t_start, t.t_end) for t in tr.turns[:2]] == [(1.0, 4.0), (4.5, 9.0)]
    tr = read("dialogue_dashes.srt")
    assert said(tr) == [("Interviewer", "How did it start?"),
                        ("Participant", "Well, it was after the accident. I couldn't sleep."),
                        ("", "And then?"), ("", "It got worse - much worse."), ("Interviewer", "I see.")]


@pytest.mark.parametrize("as_word", [False, True])
def test_teams_word_transcript_with_a_time_range_above_each_name(tmp_path, as_word):
    """Teams' Word transcripts: a cue time range (hours and minutes not padded), the name, the
    words.  Each block was one turn of an unknown speaker, time range and name in its words."""
    path = as_word_document(STYLES / "teams_word_cues.txt", tmp_path / "teams.docx") if as_word else None
    tr = read("teams_word_cues.txt") if path is None else io.read_transcript(path)
    assert said(tr) == [("Jane Doe", "Thanks for joining. Can you tell me how the pain started?"),
                        ("Patient Seven", "It started after my divorce, I think.\nMy neck first."),
                        ("Jane Doe", "And then?"), ("Patient Seven", "Then my back, and the sleep went.")]
    assert [t.t_start for t in tr.turns] == [0.0, 5.28, 13.0, 75.1]


def test_youtube_studio_sbv_captions(tmp_path):
    tr = read("youtube_studio.sbv")
    assert tr.format == "sbv"
    assert said(tr) == [("INTERVIEWER", "So how did the pain start?"),
                        ("", "It started after the accident, and it never really went."),
                        ("INTERVIEWER", "I see.")]
    assert [(t.t_start, t.t_end) for t in tr.turns] == [(0.599, 4.16), (4.16, 9.1), (9.5, 11.0)]
    broken = tmp_path / "broken.sbv"
    broken.write_text("0:00:00.599,0:00:04.160\nHello.\n\n00:00:05 --> 00:00:06\nGone.\n", encoding="utf-8")
    with pytest.raises(io.InputError, match="malformed SBV caption block") as err:
        io.read_transcript(broken)
    assert err.value.line == 4


def test_an_unnamed_cue_in_a_file_that_names_every_cue_is_unknown(tmp_path):
    # WhisperX and Zoom name the speaker of every cue and leave one unnamed where diarisation
    # assigned nobody: continuing the turn before gave a participant's words to the interviewer
    path = tmp_path / "whisperx.srt"
    path.write_text("1\n00:00:01,000 --> 00:00:02,000\n[SPEAKER_00]: How did the pain start?\n\n"
                    "2\n00:00:02,000 --> 00:00:03,000\n[SPEAKER_00]: Take your time.\n\n"
                    "3\n00:00:03,000 --> 00:00:05,000\nAfter the accident, I could not sleep.\n\n"
                    "4\n00:00:05,000 --> 00:00:06,000\n[SPEAKER_01]: And my back.\n", encoding="utf-8")
    tr = io.read_transcript(path)
    assert said(tr) == [("SPEAKER_00", "How did the pain start? Take your time."),
                        ("", "After the accident, I could not sleep."), ("SPEAKER_01", "And my back.")]
    # a line wrapped mid-sentence that starts with a dash is no second speaker
    wrapped = tmp_path / "wrapped.srt"
    wrapped.write_text("1\n00:00:01,000 --> 00:00:03,000\nParticipant: I went to three doctors\n"
                       "- well, four - and none helped.\n", encoding="utf-8")
    whole = "I went to three doctors - well, four - and none helped."
    assert said(io.read_transcript(wrapped)) == [("Participant", whole)]
