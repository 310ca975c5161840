"""Regenerate the binary and specially encoded example files in tests/data.

Run from the repository root: ``.venv/bin/python tests/data/make_examples.py``.
The outputs are committed; the tests read them and never write here.
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

DOCX_PARAGRAPHS = [
    ("Interviewer", "Thank you for agreeing to this interview. How long have you had the back pain?"),
    ("Participant", "About three years now. It started slowly, first only in the mornings."),
    ("Interviewer", "And the tiredness?"),
    ("Participant", "That came later. Maybe a year after the pain. I thought I was just getting older."),
    ("Interviewer", "Mm-hmm."),
    ("Participant", "But it's different from normal tiredness. Sleep doesn't fix it."),
    ("Interviewer", "What made you decide to start therapy?"),
    ("Participant", "My doctor suggested it. I was not happy at first, I thought she meant it was all in my head."),
    ("Interviewer", "How do you feel about it now?"),
    ("Participant", "Better. My therapist explained how stress and pain can feed each other. That made sense to me."),
    ("Interviewer", "Can you give an example?"),
    ("Participant", "When my son was ill last winter, the pain was terrible. When he got better, so did I."),
    ("Interviewer", "Thank you, that's very helpful."),
]

ODT_PARAGRAPHS = [
    ("T", "Where in your body do you notice the exhaustion today?"),
    ("P", "In my chest, I think. And my shoulders, they feel like they weigh a ton."),
    ("T", "Can you stay with that feeling for a moment?"),
    ("P", "Okay."),
    ("P", "It's uncomfortable. I usually try to ignore it and keep going."),
    ("T", "What happens when you ignore it?"),
    ("P", "It gets worse. By the end of the week I'm on the sofa and the back pain is back."),
    ("T", "So noticing it early might give you more choice."),
    ("P", "Maybe. I'd like to try that, if we can practise it together."),
    ("T", "Yes, let's do that next time."),
]

NO_LABELS = """The patient described a long history of lower back pain.

She reported that the pain worsens during periods of stress at work, and that fatigue
has become her main complaint over the last year.

In the session she was able to connect the pain flare-ups with conflicts at home.
"""

CP1252_TEXT = ("Interviewer: Wie geht es Ihnen heute?\n"
               "Patientin: Müde. Der Rücken tut weh – wie immer, wenn ich gestresst bin.\n"
               "Interviewer: Seit wann ist das so?\n"
               "Patientin: Seit dem Umzug, ungefähr. Das Gefühl ist schwer zu beschreiben… naïve Hoffnung.\n")

UTF16_TEXT = ("Interviewer: How did the week go?\n"
              "P5: Quite well, actually. I used the breathing exercise before the meeting.\n"
              "Interviewer: And the pain?\n"
              "P5: Still there, but I wasn't afraid of it this time. That’s new — for me.\n")


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Interview 12 (wave 1)", level=1)
    for speaker, text in DOCX_PARAGRAPHS:
        document.add_paragraph(f"{speaker}: {text}")
    document.save(str(path))


def make_odt(path: Path) -> None:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    document = OpenDocumentText()
    for speaker, text in ODT_PARAGRAPHS:
        document.text.addElement(P(text=f"{speaker}: {text}"))
    document.save(str(path))


def main() -> None:
    make_docx(HERE / "example_interview.docx")
    make_odt(HERE / "example.odt")
    (HERE / "bad_empty.txt").write_bytes(b"")
    # a PNG signature and header chunk: NUL bytes, not text
    (HERE / "bad_binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)))
    # high bytes only: invalid UTF-8, 0x81 is undefined in cp1252, no NULs; no code page makes sense of it
    rng = random.Random(0)
    (HERE / "bad_undecodable.txt").write_bytes(bytes([0x81]) + bytes(rng.randrange(128, 256) for _ in range(400)))
    (HERE / "bad_no_labels.txt").write_text(NO_LABELS, encoding="utf-8")
    (HERE / "bad_malformed.vtt").write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nInterviewer: Hello.\n\n"
        "00:00:04,000 -> 00:00:06.000\nP1: Hi.\n", encoding="utf-8")
    (HERE / "bad_malformed.srt").write_text(
        "1\n00:00:01,000 --> 00:00:03,000\nInterviewer: Hello.\n\n2\n00:00:04,000 --> later\nP1: Hi.\n",
        encoding="utf-8")
    (HERE / "bad_missing_column.csv").write_text("doc_id,who,text\nd1,Interviewer,Hello\n", encoding="utf-8")
    (HERE / "bad_unknown.xyz").write_text("Interviewer: hello\n", encoding="utf-8")
    (HERE / "enc_cp1252.txt").write_bytes(CP1252_TEXT.replace("\n", "\r\n").encode("cp1252"))
    (HERE / "enc_utf16.txt").write_bytes(UTF16_TEXT.encode("utf-16"))  # with BOM
    (HERE / "enc_utf8_bom.txt").write_bytes(b"\xef\xbb\xbf" + UTF16_TEXT.replace("\n", "\r").encode("utf-8"))


if __name__ == "__main__":
    main()
