"""Corpora in other languages than English: said, and theme keywords without their stop words."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from psythemes.errors import PsythemesWarning
from psythemes.io import read_transcripts
from psythemes.language import clearly_not_english, guess_language, stop_words

# Written for these tests: a Dutch patient on psychosomatic therapy, and an English one.
DUTCH = ("Interviewer: Hoe heeft u de therapie ervaren?\n"
         "P01: Eerlijk gezegd vond ik het eerst moeilijk. Ik wist niet wat ik moest verwachten, maar de "
         "therapeut nam de tijd en ze luisterde echt naar mij. Daarna gingen we oefeningen doen, en dan weer "
         "praten over wat ik voelde. Die afwisseling was fijn, want ik merkte dat de spanning in mijn "
         "schouders minder werd als ik er over kon praten. Het was niet altijd makkelijk, maar het heeft me "
         "wel geholpen om te zien hoe mijn lichaam en mijn hoofd met elkaar samenhangen.\n") * 2
ENGLISH = ("Interviewer: How did you find the therapy?\n"
           "P01: To be honest it was hard at first. I did not know what to expect, but the therapist took the "
           "time and she really listened to me. Then we did exercises, and then talked again about what I felt. "
           "That alternation was good, because I noticed that the tension in my shoulders got less when I could "
           "talk about it. It was not always easy, but it did help me see how my body and my head hang "
           "together.\n") * 2


def test_a_dutch_corpus_is_named_and_an_english_one_is_not(tmp_path):
    assert len(stop_words("nl")) > 100 and "het" in stop_words("nl")
    dutch, english = guess_language([DUTCH]), guess_language([ENGLISH])
    assert dutch is not None and dutch.code == "nl" and clearly_not_english(dutch)
    assert english is not None and english.code == "en" and not clearly_not_english(english)
    assert guess_language(["Hoe gaat het?"]) is None  # too few words to tell
    (tmp_path / "nl01.txt").write_text(DUTCH, encoding="utf-8")
    (tmp_path / "en01.txt").write_text(ENGLISH, encoding="utf-8")
    with pytest.warns(PsythemesWarning, match=r"look Dutch .*sentence splitting takes --lang nl"):
        read_transcripts([tmp_path / "nl01.txt"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)
        read_transcripts([tmp_path / "en01.txt"])


def test_theme_keywords_of_a_dutch_corpus_leave_out_dutch_stop_words():
    from psythemes import ThemeDiscoverer

    sentences = [s.strip() for s in DUTCH.replace("\n", " ").split(".") if len(s.split()) > 3]
    texts = (sentences * 6)[:36]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(len(texts), 8)).astype(np.float32)
    segs = pd.DataFrame({"doc_id": [f"D{i % 6}" for i in range(len(texts))],
                         "segment_id": [f"s{i}" for i in range(len(texts))], "start": 0, "end": 1, "text": texts})
    with pytest.warns(PsythemesWarning, match="the segments look Dutch: theme keywords leave out"):
        d = ThemeDiscoverer(preset="fast", n_themes=2, random_state=0).fit(segs, X)
    words = {w.strip() for cell in d.themes_["keywords"] for w in cell.split(";")}
    assert not words & {"het", "ik", "de", "een", "maar", "wat", "mijn"}
    assert d.summary()["stop_words_language"] == "nl"


def test_extract_takes_the_sentence_splitters_language(tmp_path, capsys):
    from psythemes.cli import main
    from psythemes.errors import InputError
    from psythemes.pipeline import extract
    from psythemes.segment import SentenceSegmenter

    (tmp_path / "nl01.txt").write_text(DUTCH, encoding="utf-8")
    # the language reaches the splitter (spaCy knows no "qq" language); it fails before any embedding
    rc = main(["extract", str(tmp_path / "nl01.txt"), "--unit", "sentence", "--lang", "qq",
               "--codebook", "psychosomatic", "--out", str(tmp_path / "out")])
    assert rc == 2 and "unknown spaCy language 'qq'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="both a segmenter part and lang were given"):
        extract([tmp_path / "nl01.txt"], codebook="psychosomatic", lang="nl", segmenter=SentenceSegmenter())


def test_backchannels_of_other_languages_are_set_aside():
    # a stranger's Dutch corpus kept "Ja." and "Nou, ja." as content: themes were made of them
    from psythemes.segment import is_backchannel

    for short in ("Ja.", "Nou, ja.", "Oké, precies.", "Klopt.", "Genau.", "Ja, stimmt.", "D'accord.", "Oui, oui.",
                  "Sí, claro.", "Vale."):
        assert is_backchannel(short), short
    for content in ("Ja, dat klopt wel, maar het was moeilijk.", "Nou, ik weet het niet.", "Genau das war das Problem.",
                    "So.", "Jo."):
        assert not is_backchannel(content), content
