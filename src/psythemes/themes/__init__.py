"""Candidate themes: BERTopic over segment embeddings, with readable labels and verbatim quotes.

Split by job:

- :mod:`~psythemes.themes.discoverer`: :class:`ThemeDiscoverer` (fit on segments and their
  embeddings; learned state with a trailing ``_``; in memory only).
- :mod:`~psythemes.themes.presets`: :data:`PRESETS` (``default`` = UMAP + HDBSCAN, ``fast`` =
  PCA + k-means) and :data:`SMALL_CORPUS`.
- :mod:`~psythemes.themes.descriptions`: vectorizer, stop words, people's names, keywords,
  labels and representation models.
- :mod:`~psythemes.themes.cache`: the theme cache entry (``ThemeDiscoverer(memory=...)``).
- :mod:`~psythemes.themes.figures`: the plotly figures as HTML strings.

Files are written by :mod:`psythemes.tables` (``write_themes``) and run from files by
:mod:`psythemes.jobs` (``discover_themes``, ``write_theme_outputs``).
"""

from __future__ import annotations

from .descriptions import (
    CONTRACTIONS,
    KEYWORD_SEP,
    LABEL_SEP,
    TRANSCRIPT_FILLERS,
    SpokenAnalyzer,
    make_vectorizer,
    name_like_words,
    person_names,
    preprocess,
    theme_label,
    tokenize,
    transcript_stop_words,
)
from .discoverer import (
    DECIMALS,
    OUTLIER_THEME,
    ThemeDiscoverer,
    seed_words_from_codebook,
)
from .presets import PRESETS, SMALL_CORPUS

__all__ = [
    "ThemeDiscoverer",
    "seed_words_from_codebook",
    "PRESETS",
    "SMALL_CORPUS",
    "OUTLIER_THEME",
    "DECIMALS",
    "TRANSCRIPT_FILLERS",
    "CONTRACTIONS",
    "LABEL_SEP",
    "KEYWORD_SEP",
    "SpokenAnalyzer",
    "make_vectorizer",
    "transcript_stop_words",
    "person_names",
    "name_like_words",
    "preprocess",
    "tokenize",
    "theme_label",
]
