"""Which language a corpus is written in, as far as psythemes' English-made parts care.

psythemes' bundled embedding model (all-MiniLM-L6-v2), its spoken-language stop words, its
backchannel list and its pseudonymisation model are English.  On a Dutch or German corpus they
still run, and their results look like results: themes labelled with function words, zero-shot
codes near arbitrary, names missed.  :func:`guess_language` tells English from the languages
spaCy has stop-word lists for, by the share of a sample's words that are each language's stop
words; :func:`warn_if_not_english` says it once, naming what is English-only and what to do.

The stop-word lists are spaCy's (``spacy/lang/<code>/stop_words.py``), read from their files so
that reading transcripts does not import spaCy (about 2 s).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import PsythemesWarning

__all__ = ["LANGUAGE_NAMES", "LanguageGuess", "clearly_not_english", "guess_language", "stop_words",
           "warn_if_not_english"]

#: Languages told apart (spaCy has stop-word lists for them), with their names in messages.
LANGUAGE_NAMES = {"en": "English", "nl": "Dutch", "de": "German", "fr": "French", "es": "Spanish",
                  "it": "Italian", "pt": "Portuguese", "da": "Danish", "sv": "Swedish", "nb": "Norwegian"}
# a guess needs this many words, and the other language this share of stop words and this lead
_MIN_WORDS = 100
_MIN_SHARE = 0.2
_MIN_LEAD = 0.1
_SAMPLE_CHARS = 200_000
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")


@dataclass(frozen=True)
class LanguageGuess:
    """The language whose stop words make up most of a sample's words, and each language's share."""

    code: str
    shares: dict[str, float]
    n_words: int

    @property
    def name(self) -> str:
        """The language's English name."""
        return LANGUAGE_NAMES.get(self.code, self.code)


@functools.cache
def stop_words(code: str) -> frozenset[str]:
    """spaCy's stop words for ``code`` (empty when spaCy or the list is not there)."""
    spec = importlib.util.find_spec("spacy")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "lang" / code / "stop_words.py"
    if not path.is_file():
        return frozenset()
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # a set literal, no imports
    words = namespace.get("STOP_WORDS", set())
    return frozenset(str(w).casefold() for w in words) if isinstance(words, (set, frozenset)) else frozenset()


def guess_language(texts: Iterable[str], *, max_chars: int = _SAMPLE_CHARS) -> LanguageGuess | None:
    """The language of ``texts`` (a sample of their first ``max_chars`` characters), or None when
    there are too few words to tell.

    Parameters
    ----------
    texts : iterable of str
    max_chars : int
        How much text is looked at.

    Returns
    -------
    LanguageGuess or None
    """
    sample, size = [], 0
    for text in texts:
        sample.append(text[: max_chars - size])
        size += len(sample[-1])
        if size >= max_chars:
            break
    words = _WORD.findall(" ".join(sample).casefold())
    if len(words) < _MIN_WORDS:
        return None
    shares = {}
    for code in LANGUAGE_NAMES:
        listed = stop_words(code)
        if listed:
            shares[code] = sum(w in listed for w in words) / len(words)
    if not shares:
        return None
    return LanguageGuess(max(shares, key=lambda c: shares[c]), shares, len(words))


def clearly_not_english(guess: LanguageGuess | None) -> bool:
    """Whether a guess says, with a margin, that the text is in another language than English."""
    if guess is None or guess.code == "en" or "en" not in guess.shares:
        return False
    share, english = guess.shares[guess.code], guess.shares["en"]
    return share >= _MIN_SHARE and share - english >= _MIN_LEAD


def warn_if_not_english(texts: Iterable[str], *, what: str = "the transcripts") -> LanguageGuess | None:
    """Warn (:class:`~psythemes.errors.PsythemesWarning`) when ``texts`` are clearly not English.

    Returns the guess (None when there was too little text), whether or not it warned.
    """
    guess = guess_language(texts)
    if guess is not None and clearly_not_english(guess):
        share, english = guess.shares[guess.code], guess.shares["en"]
        warnings.warn(
            f"{what} look {guess.name} ({share:.0%} of {guess.n_words} words are {guess.name} stop words, "
            f"{english:.0%} English ones): psythemes' embedding model, theme stop words, backchannels and "
            f"pseudonymisation are made for English, so themes and zero-shot codes will be weaker and names may "
            f"be missed; sentence splitting takes --lang {guess.code}; see docs/formats.md, *Languages*",
            PsythemesWarning, stacklevel=3)
    return guess
