"""Candidate themes (the names of :mod:`psythemes.themes`, importable from here as well).

The discoverer and its parts live in the :mod:`psythemes.themes` package; the file-level job
(:func:`discover_themes`) in :mod:`psythemes.jobs`; the readers and writers of the theme tables
in :mod:`psythemes.tables`.
"""

from __future__ import annotations

from ._moved import forward
from .themes import (
    CONTRACTIONS,
    DECIMALS,
    KEYWORD_SEP,
    LABEL_SEP,
    OUTLIER_THEME,
    PRESETS,
    SMALL_CORPUS,
    TRANSCRIPT_FILLERS,
    SpokenAnalyzer,
    ThemeDiscoverer,
    make_vectorizer,
    person_names,
    preprocess,
    seed_words_from_codebook,
    theme_label,
    tokenize,
    transcript_stop_words,
)

__all__ = [
    "ThemeDiscoverer",
    "discover_themes",  # noqa: F822 (forwarded to psythemes.jobs below)
    "seed_words_from_codebook",
    "person_names",
    "PRESETS",
    "TRANSCRIPT_FILLERS",
    "CONTRACTIONS",
    "LABEL_SEP",
    "KEYWORD_SEP",
    "DECIMALS",
    "SpokenAnalyzer",
    "preprocess",
    "tokenize",
    "theme_label",
    "transcript_stop_words",
    "make_vectorizer",
    "SMALL_CORPUS",
    "OUTLIER_THEME",
]

# Moved to the file-level modules; still importable from here.
__getattr__ = forward(__name__, {
    "discover_themes": "jobs",
    "load_segments": "jobs",
    "parse_quotes": "tables",
    "quote_texts": "tables",
})
