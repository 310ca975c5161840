"""Candidate themes: BERTopic over segment embeddings, with readable labels and verbatim quotes.

:class:`ThemeDiscoverer` clusters precomputed segment embeddings (see :mod:`psythemes.embed`)
with BERTopic, every stage of which is handed in: dimension reduction, clustering, the
vectorizer and the c-TF-IDF model.  BERTopic never picks or downloads an embedding model of
its own.  A *preset* is only a ready-made set of these parts (:data:`PRESETS`):

``default``
    UMAP (15 neighbours, 5 components, min_dist 0, cosine, seeded) + HDBSCAN
    (``min_cluster_size=min_topic_size``); segments that fit no cluster are outliers (theme -1).
``fast``
    PCA (up to 10 components, seeded) + k-means (``n_themes`` clusters, or about
    ``sqrt(n_segments) / 2``); no outliers, sub-second on thousands of segments.

Corpora under :data:`SMALL_CORPUS` segments fall back from ``default`` to ``fast`` with a
warning (UMAP/HDBSCAN need more points than that to find structure).

Keywords are c-TF-IDF candidates (words and bigrams of adjacent words, contractions kept
whole) after removing English stop words, spoken fillers (:data:`TRANSCRIPT_FILLERS`) and the
speakers' names, re-ranked with BERTopic's KeyBERTInspired and MaximalMarginalRelevance when an
embedder is given; a theme's label is its top three keywords that share no word, joined by
`` · ``.  ``n_runs`` adds a stability check (:mod:`psythemes.stability`).  Quotes are verbatim segments closest (cosine) to the
theme's centroid, at most one per transcript.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import json
import logging
import math
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._moved import forward
from .base import Params
from .errors import InputError, PsythemesWarning
from .outputs import prepare_out_dir, write_bytes, write_json, write_table, write_text
from .schema import SEGMENT_COLUMNS, SEGMENT_THEME_COLUMNS, THEME_COLUMNS

if TYPE_CHECKING:
    from .codebook import Codebook
    from .embed import Embedder

__all__ = [
    "ThemeDiscoverer",
    "discover_themes",
    "seed_words_from_codebook",
    "PRESETS",
    "TRANSCRIPT_FILLERS",
    "transcript_stop_words",
    "make_vectorizer",
    "SMALL_CORPUS",
    "OUTLIER_THEME",
]

_DOC, _SEGID, _SPEAKER, _ROLE, _START, _END, _TEXT = SEGMENT_COLUMNS[:7]
_THEME_ID, _LABEL, _KEYWORDS, _SIZE = THEME_COLUMNS
_PROB = SEGMENT_THEME_COLUMNS[2]
_WAVE = "wave"

#: theme id of segments that fit no theme (HDBSCAN noise)
OUTLIER_THEME = -1
#: below this many segments the ``default`` preset falls back to ``fast``
SMALL_CORPUS = 50
#: decimals of floats in the written tables (keeps them byte-identical across runs)
DECIMALS = 4
LABEL_SEP = " · "
KEYWORD_SEP = "; "

#: Words of spoken language that carry no theme: hesitations, backchannels, greetings, hedges,
#: discourse markers, filler verbs, transcription marks and contractions.  Contractions are
#: listed both whole ("don't", as :func:`tokenize` keeps them) and without their apostrophe
#: ("dont", as BERTopic's own English preprocessing or a hand-made vectorizer may see them).
#: Multi-word fillers ("you know", "kind of", "sort of", "I mean") are removed through their
#: content word, because stop words are dropped before bigrams are formed.  Words that matter
#: in therapy talk ("feel", "body", "pain", "time") are deliberately kept.
TRANSCRIPT_FILLERS: tuple[str, ...] = (
    # hesitations and backchannels
    "um", "umm", "uh", "uhm", "uhhuh", "uhuh", "huh", "er", "erm", "ah", "aha", "oh", "hm", "hmm", "hmmm", "mm",
    "mmm", "mhm", "mmhmm", "mhmm", "yeah", "yes", "yep", "yup", "nope", "okay", "ok", "alright", "right",
    "sure", "well", "wow", "gosh", "cool", "absolutely", "exactly", "definitely", "totally",
    # greetings and politeness formulas (openings and closings of every conversation)
    "hi", "hello", "hey", "bye", "goodbye", "thank", "thanks", "welcome", "please",
    # hedges and discourse markers
    "like", "know", "think", "mean", "kind", "sort", "really", "just", "actually", "basically",
    "literally", "probably", "maybe", "guess", "pretty", "quite", "bit", "little", "lot", "lots",
    "thing", "things", "stuff", "something", "anything", "everything", "way", "got", "get", "gets",
    "getting", "go", "goes", "going", "gonna", "wanna", "gotta", "say", "says", "said", "saying",
    "tell", "told", "did", "does", "doing", "done", "let", "kinda", "sorta", "yknow", "dunno",
    # filler verbs: carry the sentence, not its topic ("I went and asked and she came")
    "went", "came", "come", "comes", "coming", "asked", "ask", "asking", "want", "wanted", "wants",
    "make", "makes", "made", "put", "take", "took", "taken", "look", "looked", "looking", "see", "saw",
    "seen", "use", "used", "try", "tried", "trying", "need", "needed", "needs", "mentioned", "sounds",
    # transcription marks
    "laughs", "laughing", "laughter", "inaudible", "unintelligible", "indiscernible", "crosstalk",
    "pause", "unclear", "sighs",
    # contractions with the apostrophe removed
    "im", "ive", "id", "ill", "its", "thats", "theres", "whats", "hes", "shes", "lets", "youre",
    "theyre", "youve", "weve", "theyve", "youd", "theyd", "youll", "theyll", "dont", "didnt",
    "doesnt", "isnt", "wasnt", "arent", "werent", "cant", "couldnt", "wont", "wouldnt", "shouldnt",
    "havent", "hasnt", "hadnt", "hed", "shed", "wed", "shell", "itll", "thatll", "wouldve", "couldve",
    "shouldve", "whos", "aint", "yall",
)

_PRONOUNS = ("i", "you", "he", "she", "it", "we", "they", "that", "there", "here", "what", "who", "where",
             "how", "when", "why", "this", "everyone", "somebody", "someone", "nobody", "y")
_NEGATED = ("do", "does", "did", "is", "was", "are", "were", "ca", "can", "could", "wo", "would", "should",
            "have", "has", "had", "ai", "must", "need", "might", "sha")
#: Contractions as :func:`tokenize` keeps them ("don't", "you're", "i'd"; "'s" is cut off there).
CONTRACTIONS: tuple[str, ...] = tuple(sorted(
    {f"{p}'{s}" for p in _PRONOUNS for s in ("m", "re", "ve", "ll", "d")}
    | {f"{v}n't" for v in _NEGATED} | {"can't", "won't", "shan't", "y'know", "y'all", "would've", "could've",
                                      "should've", "must've", "might've"}
))

#: Words of speaker labels that name a role, not a person: kept in keywords ("therapist").
ROLE_WORDS: frozenset[str] = frozenset({
    "interviewer", "interviewee", "therapist", "client", "patient", "participant", "speaker", "moderator",
    "facilitator", "respondent", "counsellor", "counselor", "doctor", "dr", "mr", "mrs", "ms", "miss", "prof",
    "unknown", "seeker", "supporter", "user", "system", "host", "guest", "researcher", "nurse", "student",
    "teacher", "parent", "mother", "father", "mum", "mom", "dad", "partner", "carer", "caregiver", "coach",
    "psychologist", "physiotherapist", "group", "member", "observer", "assistant", "other", "all", "both",
})

#: Metadata columns whose values are people's names (case-insensitive substring match).
NAME_COLUMNS = ("name", "speaker", "participant", "interviewer", "pseudonym", "therapist", "client", "person")

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
# letters, with apostrophes inside a word kept ("don't", "o'clock"); no digits
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")


def preprocess(text: str) -> str:
    """Lower case, typographic apostrophes made plain (the vectorizer's ``preprocessor``)."""
    return str(text).translate(_APOSTROPHES).lower()


def tokenize(text: str) -> list[str]:
    """Words of two or more letters, contractions kept whole.

    "Don't" stays ``don't`` (not ``dont``/``don``), "o'clock" stays ``o'clock``; a possessive or
    contracted "'s" is cut off ("Mum's" -> ``mum``, "it's" -> ``it``), so every token is a word
    as it is written in the transcript.  Expects :func:`preprocess`-ed text.
    """
    out = []
    for word in _WORD.findall(text):
        if word.endswith("'s"):
            word = word[:-2]
        if sum(ch.isalpha() for ch in word) >= 2:
            out.append(word)
    return out


def transcript_stop_words() -> list[str]:
    """scikit-learn's English stop words, :data:`TRANSCRIPT_FILLERS` and :data:`CONTRACTIONS`, sorted."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return sorted(set(ENGLISH_STOP_WORDS) | set(TRANSCRIPT_FILLERS) | set(CONTRACTIONS))


def make_vectorizer(
    stop_words: str | Sequence[str] | None = "transcript",
    ngram_range: tuple[int, int] = (1, 2),
    extra_stop_words: Sequence[str] = (),
) -> Any:
    """The CountVectorizer behind the keywords (:func:`tokenize`: contractions kept whole).

    Parameters
    ----------
    stop_words : "transcript", "english", list of str or None
        ``"transcript"`` = :func:`transcript_stop_words`.
    ngram_range : tuple, default (1, 2)
    extra_stop_words : sequence of str
        Added to ``stop_words`` (e.g. the speakers' names, :func:`person_names`).
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    if isinstance(stop_words, str):
        if stop_words == "transcript":
            words = set(transcript_stop_words())
        elif stop_words == "english":
            words = set(ENGLISH_STOP_WORDS)
        else:
            raise InputError(f"stop_words must be 'transcript', 'english', a list or None, not {stop_words!r}")
    else:
        words = set(stop_words or ())
    words |= set(extra_stop_words)
    # written the way the tokenizer sees words: each stop word as its tokens
    final = sorted({tok for w in words for tok in tokenize(preprocess(w))})
    return CountVectorizer(analyzer=SpokenAnalyzer(final, ngram_range))


class SpokenAnalyzer:
    """The vectorizer's analyzer: :func:`tokenize`, stop words out, n-grams of *adjacent* words only.

    scikit-learn's own analyzer forms n-grams after removing stop words, which glues words that
    were never next to each other ("walk to the door" -> "walk door"); here an n-gram is a run
    of words that follow each other in the transcript, none a stop word, none repeated
    ("pain, pain" is not a bigram).

    Parameters
    ----------
    stop_words : sequence of str
    ngram_range : tuple of int
    """

    def __init__(self, stop_words: Sequence[str] = (), ngram_range: tuple[int, int] = (1, 2)):
        self.stop_words = tuple(stop_words)
        self.ngram_range = tuple(ngram_range)
        self._stop = frozenset(self.stop_words)

    def __call__(self, doc: str) -> list[str]:
        tokens = tokenize(preprocess(doc))
        keep = [t not in self._stop for t in tokens]
        low, high = self.ngram_range
        out = []
        for n in range(max(1, low), high + 1):
            for i in range(len(tokens) - n + 1):
                gram = tokens[i : i + n]
                if all(keep[i : i + n]) and len(set(gram)) == n:
                    out.append(" ".join(gram))
        return out

    def __reduce__(self) -> tuple[Any, ...]:
        return (SpokenAnalyzer, (self.stop_words, self.ngram_range))

    def __repr__(self) -> str:
        return f"SpokenAnalyzer({len(self.stop_words)} stop words, ngram_range={self.ngram_range})"


def person_names(segments: pd.DataFrame, metadata: pd.DataFrame | None = None) -> list[str]:
    """Words of people's names: from the speaker labels and name-like metadata columns.

    Each label is split into words of two or more letters ("Dr Sarah Jones" -> ``sarah``,
    ``jones``); role words (:data:`ROLE_WORDS`: "Interviewer", "Therapist", "Dr") and ids
    without letters ("P01", "T22") are not names.  Metadata columns count when their name
    contains one of :data:`NAME_COLUMNS` (``participant``, ``interviewer_name`` ...).

    Returns
    -------
    list of str
        Sorted, lower case, as :func:`tokenize` writes them.
    """
    values: list[str] = []
    frames = [segments] + ([metadata] if metadata is not None else [])
    for frame in frames:
        for col in frame.columns:
            if col == _SPEAKER or (col != _DOC and any(key in str(col).lower() for key in NAME_COLUMNS)):
                column = frame[col]
                if column.dtype == object or pd.api.types.is_string_dtype(column):
                    # text cells only: a metadata cell may hold a mapping (``speaker_roles``), not a name
                    values.extend(dict.fromkeys(v for v in column.dropna() if isinstance(v, str)))
    words = {w for v in values for w in tokenize(preprocess(v))}
    return sorted(w for w in words if w not in ROLE_WORDS)


# -- presets --------------------------------------------------------------------------------


def _default_parts(n_samples: int, n_features: int, *, min_topic_size: int, n_themes: int | None, random_state: int) -> dict[str, Any]:
    from hdbscan import HDBSCAN
    from umap import UMAP

    return {
        # n_jobs=1: a seeded UMAP is single-threaded anyway (and says so in a warning otherwise)
        "umap_model": UMAP(
            n_neighbors=min(15, n_samples - 1), n_components=5, min_dist=0.0, metric="cosine",
            random_state=random_state, n_jobs=1, low_memory=False,
        ),
        "hdbscan_model": HDBSCAN(
            min_cluster_size=min_topic_size, metric="euclidean", cluster_selection_method="eom", prediction_data=True
        ),
        # BERTopic merges clusters down to n_themes (c-TF-IDF similarity) when it is given
        "nr_topics": n_themes,
    }


def _fast_parts(n_samples: int, n_features: int, *, min_topic_size: int, n_themes: int | None, random_state: int) -> dict[str, Any]:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    k = n_themes if n_themes is not None else max(2, min(40, round(math.sqrt(n_samples) / 2)))
    k = min(k, n_samples)
    return {
        "umap_model": PCA(n_components=max(1, min(10, n_samples - 1, n_features)), random_state=random_state),
        "hdbscan_model": KMeans(n_clusters=k, n_init=4, random_state=random_state),
        "nr_topics": None,
    }


#: preset name -> factory of BERTopic parts
#: ``f(n_samples, n_features, *, min_topic_size, n_themes, random_state) -> dict``
PRESETS: dict[str, Callable[..., dict[str, Any]]] = {"default": _default_parts, "fast": _fast_parts}


@contextlib.contextmanager
def _quiet_bertopic() -> Iterator[None]:
    # BERTopic logs a warning for every custom topic list handed to update_topics
    logger = logging.getLogger("BERTopic")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _single_threaded() -> Any:
    """Limit BLAS/OpenMP to one thread: on segment-sized matrices (thousands x 10) k-means and
    PCA ran 10-60x faster that way on a busy 2-core machine (thread hand-offs cost more than
    they save), and sums come out in the same order every run."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _embedding_backend(embedder: Embedder) -> Any:
    """A BERTopic backend that embeds through our Embedder: seed words and keyword candidates.

    Representation models embed a handful of words per theme per call.  Going through
    ``Embedder.encode`` each time would read the whole disk cache once per call, so this
    backend reads it once, keeps every vector in memory, embeds what is missing directly and
    adds the new vectors to the disk cache in one shard at the end of the fit (:meth:`flush`).
    Embedders without a psythemes cache (anything with ``encode``) are simply called.
    """
    from bertopic.backend import BaseEmbedder

    from .embed import _text_keys

    cache = getattr(embedder, "cache_", None) if hasattr(embedder, "_encode_raw") else None

    class _PsythemesBackend(BaseEmbedder):
        def __init__(self) -> None:
            super().__init__()
            self.memo: dict[str, np.ndarray] = {}
            self.new: dict[bytes, np.ndarray] = {}
            self.disk: dict[bytes, np.ndarray] | None = None

        def embed(self, documents: list[str], verbose: bool = False) -> np.ndarray:
            texts = [str(d) for d in documents]
            missing = list(dict.fromkeys(t for t in texts if t not in self.memo))
            if missing and not hasattr(embedder, "_encode_raw"):
                self.memo.update(zip(missing, _unit_rows(np.asarray(embedder.encode(missing), dtype=np.float32))))
            elif missing:
                if self.disk is None:
                    self.disk = cache.load() if cache is not None else {}
                keys = _text_keys(missing)
                todo = [(t, k) for t, k in zip(missing, keys) if k not in self.disk and k not in self.new]
                for t, k in zip(missing, keys):
                    if k in self.disk or k in self.new:
                        self.memo[t] = _unit_rows(np.asarray(self.disk.get(k, self.new.get(k)), dtype=np.float32)[None])[0]
                if todo:
                    vectors = np.asarray(embedder._encode_raw([t for t, _ in todo]), dtype=np.float32)
                    for (t, k), v in zip(todo, vectors):
                        self.new[k] = v
                        self.memo[t] = _unit_rows(v[None])[0]
            if not texts:
                return np.zeros((0, 0), dtype=np.float32)
            return np.vstack([self.memo[t] for t in texts])

        def flush(self) -> None:
            if cache is not None and self.new:
                cache.append(list(self.new), np.vstack(list(self.new.values())))
                self.new = {}

    return _PsythemesBackend()


# -- the estimator --------------------------------------------------------------------------


class ThemeDiscoverer(Params):
    """Discover candidate themes in embedded segments with BERTopic.

    Parameters
    ----------
    preset : {"default", "fast"}
        Ready-made parts (see :data:`PRESETS`); ``umap_model``/``hdbscan_model`` override them.
    min_topic_size : int, default 10
        Smallest theme (HDBSCAN ``min_cluster_size``; ``default`` preset).
    n_themes : int, optional
        ``fast``: number of k-means clusters; ``default``: merge themes down to this many.
    random_state : int, default 0
        Seed of every random part; same inputs and seed give the same themes.
    seed_words : dict of str to list of str, optional
        Guided mode: ``{code: [words]}`` becomes BERTopic's ``seed_topic_list``.  The words are
        embedded with ``embedder`` (default: the bundled model), which must be the model the
        segment embeddings came from.
    reduce_outliers : bool, default False
        Assign each outlier to the theme whose centroid is most similar (cosine) to its
        embedding: BERTopic ``reduce_outliers(strategy="embeddings")`` with our embeddings,
        then ``update_topics`` with our vectorizer.  Outliers with no positive similarity to
        any theme stay outliers.
    top_n_words : int, default 10
        Keywords per theme.
    n_quotes : int, default 5
        Representative quotes per theme (at most one per transcript).
    stop_words : "transcript", "english", list of str or None
        Words never used as keywords (see :func:`make_vectorizer`).
    by : sequence of str, default ("role", "wave")
        Columns (of the segments or the metadata) to tabulate theme prevalence by; ``wave``
        and ``role`` are skipped silently when absent.
    umap_model, hdbscan_model, vectorizer_model : objects, optional
        Your own BERTopic parts (any objects with ``fit``/``transform`` resp. ``fit``/``labels_``);
        ``fit`` works on clones, the objects you pass stay unfitted.
    embedder : Embedder, optional
        Embeds the seed words in guided mode.
    memory : str or Path, optional
        Folder in which fitted results are cached (like scikit-learn's ``Pipeline(memory=...)``):
        a later ``fit`` on the same segments, metadata, embeddings and parameters (and the same
        library versions) reads them back instead of refitting, without importing BERTopic.
        Results are the same either way (fitting is deterministic).  Not used with your own
        ``umap_model``/``hdbscan_model``/``vectorizer_model``.  Default: no cache.
    representation : "auto", sequence of {"keybert", "mmr"}, or None
        How keywords are chosen from a theme's c-TF-IDF candidates, with BERTopic's
        representation models chained in the given order: ``"keybert"`` =
        ``KeyBERTInspired`` (the candidates nearest the theme in embedding space),
        ``"mmr"`` = ``MaximalMarginalRelevance`` (diversity 0.3: no three near-synonyms).
        Both embed the candidate words with ``embedder`` (offline, cached), which must be the
        model of the segment embeddings.  ``"auto"`` = ``("keybert", "mmr")`` when an
        ``embedder`` is given, plain c-TF-IDF otherwise; ``None`` = plain c-TF-IDF.
    names : "speakers", sequence of str, or None
        Words never used as keywords because they name people: ``"speakers"`` = the words of
        the speaker labels and of name-like metadata columns (:func:`person_names`); a list
        adds your own names to those.
    n_runs : int, default 1
        Stability check: fit with ``n_runs`` seeds (``random_state``, ``random_state + 1``,
        ...), report the most central run and, per theme, how often it reappears in the
        other runs (``stability``, see :mod:`psythemes.stability`).
    resample : float, optional
        With ``n_runs > 1``: also refit ``n_runs`` times on this fraction of the transcripts
        (drawn without replacement) and include those runs in the themes' stability.

    Attributes
    ----------
    themes_ : pandas.DataFrame
        One row per theme: :data:`~psythemes.schema.THEME_COLUMNS`, then ``share``, ``n_docs``,
        ``share_<role>`` (fraction of the theme's segments spoken in that role) and
        ``top_quotes`` (JSON list of ``{doc_id, segment_id, start, end, speaker, role, text}``).
    theme_centroids_ : numpy.ndarray
        Unit-length mean embedding of each theme, rows aligned with ``themes_``.
    segment_themes_ : pandas.DataFrame
        :data:`~psythemes.schema.SEGMENT_THEME_COLUMNS` plus ``similarity`` (cosine to the
        theme centroid); theme ``-1`` = outlier.  ``probability`` is HDBSCAN's membership
        strength, empty where the clusterer gives none (k-means) or for reassigned outliers.
    outlier_share_ : float
        Fraction of segments left as outliers.
    initial_outlier_share_ : float
        Fraction of outliers before ``reduce_outliers``.
    prevalence_ : dict of str to pandas.DataFrame
        Theme prevalence per value of each ``by`` column (``by_role_``, ``by_wave_``).
    preset_ : str
        Preset actually used (``"custom"`` when parts were handed in).
    labels_ : numpy.ndarray
        Theme id of each segment (frame order; ``-1`` = outlier).
    segments_ : pandas.DataFrame
        The segment table as given (written as ``segments.csv`` on request).
    topic_model_ : bertopic.BERTopic
        The fitted model (after a fit served from ``memory``, fitted again on first use).
    from_cache_ : bool
        Whether the last ``fit`` was read from ``memory``.
    names_ : list of str
        Words removed from the keywords as people's names.
    stability_ : psythemes.stability.StabilityResult or None
        Runs, their agreement and the central run (``n_runs > 1``); themes_ then has the
        columns ``stability`` (mean best-match Jaccard over the other runs) and ``stable``.
    """

    def __init__(
        self,
        preset: str = "default",
        min_topic_size: int = 10,
        n_themes: int | None = None,
        random_state: int = 0,
        seed_words: Mapping[str, Sequence[str]] | None = None,
        reduce_outliers: bool = False,
        top_n_words: int = 10,
        n_quotes: int = 5,
        stop_words: str | Sequence[str] | None = "transcript",
        by: Sequence[str] = ("role", "wave"),
        umap_model: Any = None,
        hdbscan_model: Any = None,
        vectorizer_model: Any = None,
        embedder: Embedder | None = None,
        memory: str | Path | None = None,
        representation: str | Sequence[str] | None = "auto",
        names: str | Sequence[str] | None = "speakers",
        n_runs: int = 1,
        resample: float | None = None,
    ):
        self.preset = preset
        self.min_topic_size = min_topic_size
        self.n_themes = n_themes
        self.random_state = random_state
        self.seed_words = seed_words
        self.reduce_outliers = reduce_outliers
        self.top_n_words = top_n_words
        self.n_quotes = n_quotes
        self.stop_words = stop_words
        self.by = by
        self.umap_model = umap_model
        self.hdbscan_model = hdbscan_model
        self.vectorizer_model = vectorizer_model
        self.embedder = embedder
        self.memory = memory
        self.representation = representation
        self.names = names
        self.n_runs = n_runs
        self.resample = resample

    # -- checks ----------------------------------------------------------------------------
    def _validate(self, segments: pd.DataFrame, embeddings: np.ndarray) -> np.ndarray:
        if self.preset not in PRESETS:
            raise InputError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        for name in ("min_topic_size", "top_n_words", "n_quotes"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < (2 if name == "min_topic_size" else 1):
                raise InputError(f"{name} must be an integer >= {2 if name == 'min_topic_size' else 1}, not {value!r}")
        if self.n_themes is not None and (not isinstance(self.n_themes, (int, np.integer)) or self.n_themes < 2):
            raise InputError(f"n_themes must be an integer >= 2, not {self.n_themes!r}")
        if not isinstance(segments, pd.DataFrame):
            raise InputError("segments must be a pandas DataFrame with the segment columns")
        missing = [c for c in (_DOC, _SEGID, _TEXT) if c not in segments.columns]
        if missing:
            raise InputError(f"segment table lacks column(s) {', '.join(missing)}")
        X = np.asarray(embeddings, dtype=np.float32)
        if X.ndim != 2 or X.shape[0] != len(segments):
            raise InputError(f"embeddings have shape {X.shape}, expected ({len(segments)}, dimension): one row per segment")
        if len(segments) < 2:
            raise InputError(f"theme discovery needs at least 2 segments, got {len(segments)}")
        from .validate import check_seed

        check_seed(self.random_state)
        if not np.isfinite(X).all():
            raise InputError("embeddings contain NaN or infinite values")
        self._representation_names()
        if not isinstance(self.n_runs, (int, np.integer)) or self.n_runs < 1:
            raise InputError(f"n_runs must be an integer >= 1, not {self.n_runs!r}")
        if self.resample is not None and not (isinstance(self.resample, (int, float)) and 0 < self.resample < 1):
            raise InputError(f"resample must be a fraction between 0 and 1, not {self.resample!r}")
        if isinstance(self.names, str) and self.names != "speakers":
            raise InputError(f"names must be 'speakers', a list of names or None, not {self.names!r}")
        return X

    def _representation_names(self) -> list[str]:
        """The representation models to chain, by name (validated)."""
        rep = self.representation
        if rep is None:
            return []
        if isinstance(rep, str):
            if rep == "auto":
                return ["keybert", "mmr"] if self.embedder is not None else []
            rep = [rep]
        rep = list(rep)
        unknown = [r for r in rep if r not in _REPRESENTATIONS]
        if unknown:
            raise InputError(f"unknown representation {unknown[0]!r}; choose from {', '.join(_REPRESENTATIONS)}, "
                             "'auto' or None")
        return rep

    def _resolve_names(self, frame: pd.DataFrame) -> list[str]:
        if self.names is None:
            return []
        given = [] if isinstance(self.names, str) else [w for v in self.names for w in tokenize(preprocess(str(v)))]
        found = person_names(frame) if (self.names == "speakers" or not isinstance(self.names, str)) else []
        return sorted(set(found) | set(given))

    def _parts(self, n: int, n_features: int, seed: int) -> tuple[dict[str, Any], str]:
        preset = self.preset
        custom = self.umap_model is not None or self.hdbscan_model is not None
        if preset == "default" and n < SMALL_CORPUS and not custom:
            warnings.warn(
                f"only {n} segments: too few for UMAP + HDBSCAN (needs about {SMALL_CORPUS}); using the 'fast' preset",
                PsythemesWarning,
                stacklevel=3,
            )
            preset = "fast"
        n_themes = self.n_themes
        if preset == "default" and not custom and self.min_topic_size > n:
            # HDBSCAN would fail deep inside (k-d tree query) after the embedding work
            raise InputError(f"min_topic_size={self.min_topic_size} is more than the {n} segments; "
                             "give a smaller --min-topic-size")
        if preset == "fast" and n_themes is not None and n_themes > n:
            raise InputError(f"n_themes={n_themes} is more than the {n} segments")
        parts = PRESETS[preset](
            n, n_features, min_topic_size=self.min_topic_size, n_themes=n_themes, random_state=seed
        )
        if self.umap_model is not None:
            parts["umap_model"] = _fresh(self.umap_model)
        if self.hdbscan_model is not None:
            parts["hdbscan_model"] = _fresh(self.hdbscan_model)
        return parts, ("custom" if custom else preset)

    # -- fit -------------------------------------------------------------------------------
    def fit(
        self,
        segments: pd.DataFrame,
        embeddings: np.ndarray,
        *,
        metadata: Mapping[str, Any] | pd.DataFrame | None = None,
    ) -> ThemeDiscoverer:
        """Discover themes.

        Parameters
        ----------
        segments : pandas.DataFrame
            Segment table (:data:`~psythemes.schema.SEGMENT_COLUMNS`; extra columns such as
            ``wave`` may follow).
        embeddings : numpy.ndarray
            One row per segment, in frame order (e.g. :meth:`psythemes.embed.Embedder.embed_segments`).
        metadata : mapping or DataFrame, optional
            Per-document variables for the prevalence tables: ``{doc_id: wave}``,
            ``{doc_id: {"wave": ..., ...}}`` or a table with a ``doc_id`` column.

        Returns
        -------
        ThemeDiscoverer
            self, fitted.
        """
        X = self._validate(segments, embeddings)
        frame = _with_metadata(segments.reset_index(drop=True), metadata)
        entry = self._cache_entry(frame, X)
        self.from_cache_ = False
        self._topic_model = None
        self._fit_inputs = None
        if entry is not None and entry.load(self):
            # the BERTopic model is not cached: keep what refitting it on demand needs
            self._fit_inputs = (segments, X, frame)
            self.segments_ = segments.reset_index(drop=True).copy()
            self.from_cache_ = True
            self._cache_ = entry
            return self
        self.names_ = self._resolve_names(frame)
        seed = self.random_state
        self.stability_ = None
        if self.n_runs > 1:
            seed, runs = self._stability_runs(frame, X)
        self._fit_model(segments, X, frame, seed=seed)
        if self.n_runs > 1:
            self._add_stability(runs, seed)
            self._runs = runs  # the light runs' partitions (benchmarks/theme_quality.py reads them)
        self._cache_ = entry
        if entry is not None:
            entry.store(self)
        return self

    def _stability_runs(self, frame: pd.DataFrame, X: np.ndarray) -> tuple[int, list[dict[str, Any]]]:
        """Fit the seeds (and resamples) as light runs; return the central seed and the runs."""
        from .stability import central_run

        params = {name: getattr(self, name) for name in _PARAMS}
        params.update(representation=None, by=(), n_runs=1, resample=None, memory=None, n_quotes=1,
                      names=list(self.names_), embedder=self.embedder if self.seed_words else None)
        n = len(frame)
        runs: list[dict[str, Any]] = []
        plans: list[tuple[str, int, np.ndarray | None]] = [
            ("seed", self.random_state + k, None) for k in range(self.n_runs)
        ]
        if self.resample is not None:
            docs = np.array(sorted(frame[_DOC].astype(str).unique()))
            rng = np.random.default_rng(self.random_state)
            k_docs = max(1, round(self.resample * len(docs)))
            for k in range(self.n_runs):
                chosen = set(rng.choice(docs, size=k_docs, replace=False).tolist())
                plans.append(("resample", self.random_state + k, frame[_DOC].astype(str).isin(chosen).to_numpy()))
        for kind, seed, mask in plans:
            rows = np.arange(n) if mask is None else np.flatnonzero(mask)
            labels = np.full(n, OUTLIER_THEME, dtype=int)
            if len(rows) >= 2:
                with warnings.catch_warnings():
                    # e.g. a small resample falling back to 'fast': the reported run warns, not these
                    warnings.simplefilter("ignore", PsythemesWarning)
                    light = ThemeDiscoverer(**{**params, "random_state": seed}).fit(
                        frame.iloc[rows].reset_index(drop=True), X[rows])
                labels[rows] = light.labels_
            covered = np.zeros(n, dtype=bool)
            covered[rows] = True
            runs.append({"kind": kind, "seed": seed, "labels": labels, "covered": covered,
                         "n_docs": int(frame[_DOC].iloc[rows].nunique())})
        seed_runs = [i for i, r in enumerate(runs) if r["kind"] == "seed"]
        centre, sim = central_run([r["labels"] for r in runs], [r["covered"] for r in runs], candidates=seed_runs)
        self._run_similarity = sim
        runs[centre]["central"] = True
        return int(runs[centre]["seed"]), runs

    def _add_stability(self, runs: list[dict[str, Any]], seed: int) -> None:
        """Per-theme stability of the reported run against every other run; a summary in stability_."""
        from .stability import STABLE_JACCARD, theme_stability

        others = [r for r in runs if not r.get("central")]
        per_theme = theme_stability(self.labels_, [r["labels"] for r in others], [r["covered"] for r in others])
        ids = self.themes_[_THEME_ID].astype(int).tolist()
        values = [per_theme.get(t, float("nan")) for t in ids]
        pos = self.themes_.columns.get_loc("top_quotes")
        self.themes_.insert(pos, "stability", np.round(values, DECIMALS))
        self.themes_.insert(pos + 1, "stable", [bool(v >= STABLE_JACCARD) for v in values])
        sizes = self.themes_[_SIZE].to_numpy(dtype=float)
        finite = np.isfinite(values)
        sim = self._run_similarity
        self.stability_ = {
            "reported_seed": seed,
            "threshold": STABLE_JACCARD,
            "runs": [{"kind": r["kind"], "seed": r["seed"], "n_docs": r["n_docs"],
                      "n_themes": int(len(set(r["labels"][r["covered"]].tolist()) - {OUTLIER_THEME})),
                      "central": bool(r.get("central", False))} for r in runs],
            "run_similarity": np.round(sim, DECIMALS).tolist(),
            "mean_run_similarity": round(float(np.nanmean(sim[np.triu_indices(len(sim), 1)])), DECIMALS)
            if len(sim) > 1 else None,
            "mean_theme_stability": round(float(np.mean(np.asarray(values)[finite])), DECIMALS) if finite.any() else None,
            "weighted_theme_stability": round(float(np.average(np.asarray(values)[finite], weights=sizes[finite])),
                                              DECIMALS) if finite.any() else None,
            "n_unstable": int(sum(1 for v in values if not v >= STABLE_JACCARD)),
        }

    def _fit_model(self, segments: pd.DataFrame, X: np.ndarray, frame: pd.DataFrame, seed: int | None = None) -> None:
        frame = frame.copy()
        texts = frame[_TEXT].fillna("").astype(str).tolist()
        n = len(texts)
        seed = self.random_state if seed is None else seed
        self.random_state_ = seed
        parts, self.preset_ = self._parts(n, X.shape[1], seed)
        if not hasattr(self, "names_"):
            self.names_ = self._resolve_names(frame)

        from bertopic import BERTopic
        from bertopic.vectorizers import ClassTfidfTransformer

        vectorizer = (
            _fresh(self.vectorizer_model) if self.vectorizer_model is not None
            else make_vectorizer(self.stop_words, extra_stop_words=self.names_)
        )
        # reduce_frequent_words damps words that every theme uses a lot (common in speech)
        ctfidf = ClassTfidfTransformer(reduce_frequent_words=True)
        seed_topic_list = None
        backend = None
        if self.seed_words:
            seed_topic_list = [list(map(str, words)) for words in self.seed_words.values()]
            if any(not words for words in seed_topic_list):
                raise InputError("every seed_words entry needs at least one word")
        representation = _representation_models(self._representation_names(), self.top_n_words, seed)
        if self.seed_words or representation:
            backend = _embedding_backend(self._seed_embedder(X.shape[1]))
        model = BERTopic(
            # not "english": BERTopic would strip apostrophes ("don't" -> "dont") before counting
            language=None,
            representation_model=representation,
            embedding_model=backend,
            umap_model=parts["umap_model"],
            hdbscan_model=parts["hdbscan_model"],
            vectorizer_model=vectorizer,
            ctfidf_model=ctfidf,
            top_n_words=self.top_n_words,
            min_topic_size=self.min_topic_size,
            nr_topics=parts["nr_topics"],
            seed_topic_list=seed_topic_list,
            calculate_probabilities=False,
            verbose=False,
        )
        with _quiet_bertopic(), _single_threaded():
            # a copy: guided mode shifts the embeddings it is given in place
            try:
                topics, probs = model.fit_transform(texts, X.copy())
            except ValueError as err:
                if "empty vocabulary" not in str(err):
                    raise
                raise InputError("the segments hold no words but stop words (e.g. only short questions): "
                                 "nothing to describe themes with") from None
        topics = np.asarray(topics, dtype=int)
        # HDBSCAN's membership strength; clusterers without probabilities (k-means) give None
        probability = np.full(n, np.nan) if probs is None else np.asarray(probs, dtype=float).reshape(n, -1)[:, 0]
        self.initial_outlier_share_ = float(np.mean(topics == OUTLIER_THEME))
        unit = _unit_rows(X)

        if self.reduce_outliers and (topics == OUTLIER_THEME).any() and (topics != OUTLIER_THEME).any():
            # outliers go to the theme whose centroid (in the caller's embedding space, not the
            # guided-shifted one) is most similar; BERTopic keeps those with no positive similarity
            model.topic_embeddings_ = _centroid_matrix(unit, topics)
            with _quiet_bertopic():
                new = np.asarray(
                    model.reduce_outliers(texts, topics.tolist(), strategy="embeddings", embeddings=X), dtype=int
                )
                # pass our vectorizer: update_topics would otherwise fall back to a default one
                model.update_topics(
                    texts, topics=new.tolist(), top_n_words=self.top_n_words,
                    vectorizer_model=vectorizer, ctfidf_model=ctfidf, representation_model=representation,
                )
            probability[(topics == OUTLIER_THEME) & (new != OUTLIER_THEME)] = np.nan
            topics = new
        if backend is not None:
            backend.flush()
        self.outlier_share_ = float(np.mean(topics == OUTLIER_THEME))
        if self.outlier_share_ == 1.0:
            warnings.warn(
                "no themes found: every segment is an outlier (try a smaller min_topic_size or the 'fast' preset)",
                PsythemesWarning,
                stacklevel=2,
            )
        elif self.preset_ != "fast":  # k-means: the user chose the number of themes
            _warn_if_one_theme_dominates(topics)

        theme_ids = sorted(int(t) for t in set(topics.tolist()) if t != OUTLIER_THEME)
        all_ids = sorted(set(topics.tolist()))
        centroids = dict(zip(all_ids, _centroid_matrix(unit, topics)))
        # keep BERTopic's own topic vectors in line with the final assignment (intertopic map)
        model.topic_embeddings_ = np.vstack([centroids[t] for t in all_ids])
        self.theme_centroids_ = (
            np.vstack([centroids[t] for t in theme_ids]).astype(np.float32)
            if theme_ids else np.zeros((0, X.shape[1]), dtype=np.float32)
        )
        own_centroid = model.topic_embeddings_[np.searchsorted(all_ids, topics)]
        similarity = np.einsum("ij,ij->i", unit, own_centroid).astype(float)

        banned = set(self.names_)
        keywords = {
            t: [w for w, _ in (model.get_topic(t) or []) if w and not set(w.split()) & banned][: self.top_n_words]
            for t in theme_ids
        }
        texts_arr = np.asarray(texts, dtype=object)
        labels = {t: _label(keywords[t], texts_arr[topics == t]) for t in theme_ids}
        with _quiet_bertopic():
            model.set_topic_labels({**labels, **({OUTLIER_THEME: "outliers"} if OUTLIER_THEME in all_ids else {})})

        available = set(frame.columns)
        frame[_ROLE] = _fill_group(frame[_ROLE]) if _ROLE in frame.columns else "unknown"
        self.themes_ = self._themes_table(frame, topics, similarity, theme_ids, keywords, labels)
        self.segment_themes_ = pd.DataFrame(
            {
                SEGMENT_THEME_COLUMNS[0]: frame[_SEGID].astype(str).to_numpy(),
                SEGMENT_THEME_COLUMNS[1]: topics,
                _PROB: np.round(probability, DECIMALS),
                "similarity": np.round(similarity, DECIMALS),
            }
        )
        self.prevalence_ = {}
        for col in self.by:
            if col not in available:
                if col in (_ROLE, _WAVE):
                    continue
                raise InputError(f"cannot tabulate themes by {col!r}: no such segment or metadata column")
            self.prevalence_[col] = _prevalence(model, texts, frame, topics, col, theme_ids, labels)
        # as given (no metadata columns, roles not filled in): this is what segments.csv holds
        self.segments_ = segments.reset_index(drop=True).copy()
        self._topic_model = model
        self.labels_ = topics

    @property
    def topic_model_(self) -> Any:
        """The fitted BERTopic model; after a fit read from ``memory`` it is fitted on first use."""
        if getattr(self, "_topic_model", None) is None:
            if getattr(self, "_fit_inputs", None) is None:
                raise AttributeError("topic_model_: ThemeDiscoverer is not fitted")
            self._fit_model(*self._fit_inputs, seed=getattr(self, "random_state_", None))
        return self._topic_model

    def _cache_entry(self, frame: pd.DataFrame, X: np.ndarray) -> _ThemeCacheEntry | None:
        """The cache entry of this fit, or None (no ``memory``, or parts we cannot fingerprint)."""
        if self.memory is None or any(
            p is not None for p in (self.umap_model, self.hdbscan_model, self.vectorizer_model)
        ):
            return None
        params = {
            name: getattr(self, name)
            for name in ("preset", "min_topic_size", "n_themes", "random_state", "seed_words", "reduce_outliers",
                         "top_n_words", "n_quotes", "stop_words", "by", "names", "n_runs", "resample")
        }
        params["representation"] = self._representation_names()
        if self.seed_words or params["representation"]:
            # guided mode embeds the seed words: the model is part of the input
            from .embed import Embedder

            embedder = self.embedder if self.embedder is not None else Embedder()
            params["seed_model"] = getattr(embedder, "model_fingerprint_", None)
            if params["seed_model"] is None:
                return None  # an embedder we cannot fingerprint
        return _ThemeCacheEntry.for_fit(Path(self.memory), params, frame, X)

    def _seed_embedder(self, dimension: int) -> Embedder:
        from .embed import Embedder

        embedder = self.embedder if self.embedder is not None else Embedder()
        probe = embedder.encode(["probe"])
        if probe.shape[1] != dimension:
            raise InputError(
                f"seed words and keywords are embedded with a {probe.shape[1]}-dimensional model but the segment embeddings "
                f"have {dimension} dimensions: pass the embedder that made them"
            )
        return embedder

    def _themes_table(
        self,
        frame: pd.DataFrame,
        topics: np.ndarray,
        similarity: np.ndarray,
        theme_ids: list[int],
        keywords: dict[int, list[str]],
        labels: dict[int, str],
    ) -> pd.DataFrame:
        n = len(frame)
        roles = sorted(frame[_ROLE].unique().tolist())
        role_cols = {r: f"share_{_slug(r)}" for r in roles}
        rows = []
        for t in theme_ids:
            members = np.flatnonzero(topics == t)
            sub = frame.iloc[members]
            role_share = sub[_ROLE].value_counts(normalize=True)
            row = {
                _THEME_ID: t,
                _LABEL: labels[t],
                _KEYWORDS: KEYWORD_SEP.join(keywords[t]),
                _SIZE: len(members),
                "share": round(len(members) / n, DECIMALS),
                "n_docs": int(sub[_DOC].nunique()),
            }
            for r, col in role_cols.items():
                row[col] = round(float(role_share.get(r, 0.0)), DECIMALS)
            row["top_quotes"] = json.dumps(_quotes(frame, members, similarity, self.n_quotes), ensure_ascii=False)
            rows.append(row)
        columns = [*THEME_COLUMNS, "share", "n_docs", *role_cols.values(), "top_quotes"]
        return pd.DataFrame(rows, columns=columns)

    # -- results ---------------------------------------------------------------------------
    @property
    def by_role_(self) -> pd.DataFrame | None:
        """Theme prevalence per role (None when not tabulated)."""
        return self.prevalence_.get(_ROLE)

    @property
    def by_wave_(self) -> pd.DataFrame | None:
        """Theme prevalence per wave (None without wave information)."""
        return self.prevalence_.get(_WAVE)

    def write(self, out_dir: str | Path, *, include_segments: bool = False, figures: bool = True) -> list[Path]:
        """Write the results into ``out_dir``.

        Files: ``themes.csv``, ``segment_themes.csv``, ``themes_by_<col>.csv`` for each
        prevalence table, ``themes_run.json`` (options and counts), ``figures/barchart.html`` and
        ``figures/intertopic.html`` (self-contained: plotly.js inlined), and ``segments.csv``
        with ``include_segments``.

        Returns
        -------
        list of Path
            The files written.
        """
        if not hasattr(self, "themes_"):
            raise InputError("ThemeDiscoverer.write() needs fit() first")
        out = prepare_out_dir(out_dir)
        written = [
            write_table(out / "themes.csv", self.themes_),
            write_table(out / "segment_themes.csv", self.segment_themes_),
        ]
        for col, table in self.prevalence_.items():
            written.append(write_table(out / f"themes_by_{_slug(col)}.csv", table))
        if include_segments:
            written.append(write_table(out / "segments.csv", self.segments_))
        written.append(write_json(out / "themes_run.json", self.summary()))
        if figures:
            written.extend(self._write_figures(out / "figures"))
        return written

    def summary(self) -> dict[str, Any]:
        """Options and headline counts of the fitted model (also written as ``themes_run.json``)."""
        return {
            "preset": self.preset,
            "preset_used": self.preset_,
            "min_topic_size": self.min_topic_size,
            "n_themes_requested": self.n_themes,
            "random_state": self.random_state,
            "seed_words": dict(self.seed_words) if self.seed_words else None,
            "reduce_outliers": self.reduce_outliers,
            "n_segments": len(self.segment_themes_),
            "n_docs": int(self.segments_[_DOC].nunique()),
            "n_themes": len(self.themes_),
            "initial_outlier_share": round(self.initial_outlier_share_, DECIMALS),
            "outlier_share": round(self.outlier_share_, DECIMALS),
            "prevalence_by": list(self.prevalence_),
            "representation": self._representation_names(),
            "names_removed": len(self.names_),
            "random_state_used": self.random_state_,
            "stability": self.stability_,
        }

    def _write_figures(self, folder: Path) -> list[Path]:
        n_themes = len(self.themes_)
        if n_themes == 0:
            note = "No themes were found: every segment is an outlier. Try a smaller --min-topic-size."
            return [_write_note(folder / "barchart.html", note), _write_note(folder / "intertopic.html", note)]
        entry = getattr(self, "_cache_", None)
        figures = entry.figures() if entry is not None else None
        if figures is None:
            title = f"{n_themes} candidate themes"
            bar = self.topic_model_.visualize_barchart(
                top_n_topics=min(n_themes, 16), n_words=5, custom_labels=True, title=f"<b>{title}: top keywords</b>"
            )
            figures = {"barchart.html": _figure_html(bar, "barchart"),
                       "intertopic.html": _figure_html(self._intertopic_figure(), "intertopic")}
            if entry is not None:
                entry.store_figures(figures)
        return [write_text(folder / name, html) for name, html in figures.items()]

    def _intertopic_figure(self) -> Any:
        # BERTopic's map runs UMAP(n_neighbors=2) over the themes.  That fails for a handful of
        # themes (BERTopic issues #1512, #1900), and in a fresh process numba compiles UMAP for
        # ~10 s, which would undo the 'fast' preset: in those cases draw the centroids on their
        # first two principal components instead.
        if len(self.themes_) >= _MIN_THEMES_FOR_UMAP_MAP and self.preset_ != "fast":
            try:
                return self.topic_model_.visualize_topics(custom_labels=True)
            except (ValueError, TypeError, IndexError) as err:
                warnings.warn(f"BERTopic's intertopic map failed ({err}); drawing a PCA map", PsythemesWarning, stacklevel=3)
        return _pca_map(self.themes_, self.theme_centroids_)

    def __repr__(self) -> str:
        return f"ThemeDiscoverer(preset={self.preset!r}, min_topic_size={self.min_topic_size}, n_themes={self.n_themes})"


_MIN_THEMES_FOR_UMAP_MAP = 5
#: constructor parameters (for the light runs of the stability check and the cache key)
_PARAMS = ("preset", "min_topic_size", "n_themes", "random_state", "seed_words", "reduce_outliers", "top_n_words",
           "n_quotes", "stop_words", "by", "umap_model", "hdbscan_model", "vectorizer_model", "embedder", "memory",
           "representation", "names", "n_runs", "resample")
_REPRESENTATIONS = ("keybert", "mmr")


def _representation_models(names: Sequence[str], top_n_words: int, seed: int) -> Any:
    """BERTopic representation models, chained in the order given (None for plain c-TF-IDF)."""
    if not names:
        return None
    from bertopic.representation import KeyBERTInspired, MaximalMarginalRelevance

    models = []
    for i, name in enumerate(names):
        # a step followed by another hands it more candidates to choose from
        n_words = top_n_words * 3 if i < len(names) - 1 else top_n_words
        if name == "keybert":
            models.append(KeyBERTInspired(top_n_words=n_words, nr_repr_docs=5, nr_samples=500, random_state=seed))
        else:
            models.append(MaximalMarginalRelevance(diversity=0.3, top_n_words=n_words))
    return models if len(models) > 1 else models[0]


# -- helpers --------------------------------------------------------------------------------


#: a theme holding more than this share of the segments swallowed the corpus
_DOMINANT_SHARE = 0.5


def _warn_if_one_theme_dominates(topics: np.ndarray) -> None:
    """HDBSCAN on short, similar turns (chat, support dialogues) can put most segments in one
    cluster (on 2,438 ESConv turns the default preset found 2 themes: benchmarks/theme_quality.py)."""
    ids, counts = np.unique(topics[topics != OUTLIER_THEME], return_counts=True)
    if len(ids) and counts.max() / len(topics) > _DOMINANT_SHARE:
        warnings.warn(
            f"one theme holds {counts.max() / len(topics):.0%} of the segments ({len(ids)} themes in all): "
            "the clustering found little structure; try the 'fast' preset or a smaller min_topic_size",
            PsythemesWarning, stacklevel=3)


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def _fresh(part: Any) -> Any:
    """An unfitted copy of a user's part (scikit-learn ``clone`` where it applies)."""
    if hasattr(part, "get_params"):
        from sklearn.base import clone

        return clone(part)
    return copy.deepcopy(part)


def _centroid_matrix(unit: np.ndarray, topics: np.ndarray) -> np.ndarray:
    """Unit-length mean vector of each topic, rows in sorted topic order (-1 first when present)."""
    return np.vstack([_unit_rows(unit[topics == t].mean(axis=0, keepdims=True)) for t in sorted(set(topics.tolist()))])


def _slug(value: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(value).lower()).strip("_") or "unknown"


def _fill_group(values: pd.Series) -> pd.Series:
    out = values.astype(object).where(values.notna(), "")
    out = out.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip())
    return out.where(out != "", "unknown")


def _label(keywords: list[str], texts: np.ndarray, n: int = 3) -> str:
    """Top keywords that share no word with one already chosen ("breathing · shoulders · jaw");
    bigrams that repeat a word ("thank thank") are skipped.

    A theme whose words are all stop words (backchannels such as "Mm-hmm.") is labelled by its
    most frequent text instead, in quotes.
    """
    chosen: list[str] = []
    used: set[str] = set()
    for kw in keywords:
        words = {_stem(w) for w in kw.split()}
        if words & used or len(words) < len(kw.split()):  # overlaps ("therapist · therapists"), or "thank thank"
            continue
        chosen.append(kw)
        used |= words
        if len(chosen) == n:
            break
    if chosen:
        return LABEL_SEP.join(chosen)
    common = pd.Series(texts).str.strip().value_counts().sort_index(kind="stable")
    text = str(common.idxmax()) if len(common) else ""
    if len(text) > 40 and " " in text[:41]:
        # cut at a word boundary: a label never shows half a word
        text = text[:41].rsplit(None, 1)[0].rstrip(",;:") + "…"
    return f"\u201c{text}\u201d"


def _stem(word: str) -> str:
    """Crude English plural stem, enough to keep "session" and "sessions" out of one label."""
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def _quotes(frame: pd.DataFrame, members: np.ndarray, similarity: np.ndarray, n_quotes: int) -> list[dict[str, Any]]:
    """Verbatim segments nearest the centroid, one per transcript; substantive ones (5+ words) first."""
    sub = frame.iloc[members]
    n_words = sub[_TEXT].fillna("").astype(str).str.split().str.len().to_numpy()
    order = sorted(range(len(members)), key=lambda i: (n_words[i] < 5, -similarity[members[i]], members[i]))
    quotes, seen_docs = [], set()
    for i in order:
        rec = sub.iloc[i]
        if rec[_DOC] in seen_docs:
            continue
        seen_docs.add(rec[_DOC])
        quote = {
            _DOC: str(rec[_DOC]),
            _SEGID: str(rec[_SEGID]),
            _START: _int_or_none(rec.get(_START)),
            _END: _int_or_none(rec.get(_END)),
            _SPEAKER: "" if pd.isna(rec.get(_SPEAKER, "")) else str(rec.get(_SPEAKER, "")),
            _ROLE: str(rec[_ROLE]),
            _TEXT: str(rec[_TEXT]),
            "similarity": round(float(similarity[members[i]]), DECIMALS),
        }
        quotes.append(quote)
        if len(quotes) == n_quotes:
            break
    return quotes


def _int_or_none(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _with_metadata(frame: pd.DataFrame, metadata: Mapping[str, Any] | pd.DataFrame | None) -> pd.DataFrame:
    """The segment table plus per-document metadata columns it does not already have."""
    if metadata is None:
        return frame.copy()
    if isinstance(metadata, pd.DataFrame):
        if _DOC not in metadata.columns:
            raise InputError("metadata table needs a 'doc_id' column")
        meta = metadata.copy()
    elif isinstance(metadata, Mapping):
        records = [
            {_DOC: doc, **(dict(v) if isinstance(v, Mapping) else {_WAVE: v})} for doc, v in metadata.items()
        ]
        meta = pd.DataFrame(records, columns=None if records else [_DOC])
    else:
        raise InputError("metadata must be a mapping doc_id -> wave/dict or a table with a doc_id column")
    meta[_DOC] = meta[_DOC].astype(str)
    meta = meta.drop_duplicates(_DOC, keep="last")
    new_cols = [c for c in meta.columns if c == _DOC or c not in frame.columns]
    out = frame.copy()
    out["_doc_key"] = out[_DOC].astype(str)
    out = out.merge(meta[new_cols].rename(columns={_DOC: "_doc_key"}), on="_doc_key", how="left")
    return out.drop(columns="_doc_key")


def _prevalence(
    model: Any,
    texts: list[str],
    frame: pd.DataFrame,
    topics: np.ndarray,
    col: str,
    theme_ids: list[int],
    labels: dict[int, str],
) -> pd.DataFrame:
    """Theme x group table: segment counts, shares both ways, and group-specific keywords."""
    groups = _fill_group(frame[col])
    values = sorted(groups.unique().tolist(), key=_natural_key)
    group_totals = groups.value_counts()
    theme_totals = pd.Series(topics).value_counts()
    counts = pd.crosstab(pd.Series(topics, name="t"), groups.rename("g"))
    words: dict[tuple[int, str], str] = {}
    if theme_ids:
        # plain c-TF-IDF per group: the representation models would run once per group
        representation, model.representation_model = model.representation_model, None
        try:
            with _quiet_bertopic():
                per_class = model.topics_per_class(texts, classes=groups.tolist())
        finally:
            model.representation_model = representation
        for rec in per_class.itertuples(index=False):
            words[(int(rec.Topic), str(rec.Class))] = KEYWORD_SEP.join(w.strip() for w in rec.Words.split(",") if w.strip())
    rows = []
    for t in theme_ids:
        for g in values:
            k = int(counts.at[t, g]) if t in counts.index and g in counts.columns else 0
            rows.append(
                {
                    _THEME_ID: t,
                    _LABEL: labels[t],
                    col: g,
                    "n_segments": k,
                    f"share_of_{_slug(col)}": round(k / int(group_totals[g]), DECIMALS),
                    "share_of_theme": round(k / int(theme_totals[t]), DECIMALS),
                    _KEYWORDS: words.get((t, g), "") if k else "",
                }
            )
    columns = [_THEME_ID, _LABEL, col, "n_segments", f"share_of_{_slug(col)}", "share_of_theme", _KEYWORDS]
    return pd.DataFrame(rows, columns=columns)


def _natural_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _figure_html(fig: Any, div_id: str) -> str:
    # plotly.js inlined: the file opens offline; a fixed div id keeps reruns byte-stable
    return fig.to_html(full_html=True, include_plotlyjs=True, div_id=div_id)


def _write_note(path: Path, note: str) -> Path:
    html = f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>psythemes</title></head><body><p>{note}</p></body></html>\n"
    return write_text(path, html)


def _pca_map(themes: pd.DataFrame, centroids: np.ndarray) -> Any:
    import plotly.graph_objects as go

    n = len(themes)
    xy = np.zeros((n, 2))
    if n >= 2:
        centred = centroids - centroids.mean(axis=0)
        # SVD is deterministic up to sign; fix the sign so reruns draw the same map
        u, s, _ = np.linalg.svd(centred, full_matrices=False)
        signs = np.sign(u[np.argmax(np.abs(u), axis=0), range(u.shape[1])])
        coords = (u * s) * np.where(signs == 0, 1, signs)
        xy[:, : min(2, coords.shape[1])] = coords[:, :2]
    sizes = themes[_SIZE].to_numpy(dtype=float)
    fig = go.Figure(
        go.Scatter(
            x=xy[:, 0], y=xy[:, 1], mode="markers+text",
            text=[f"{t}: {lab}" for t, lab in zip(themes[_THEME_ID], themes[_LABEL])], textposition="top center",
            marker={"size": 20 + 60 * np.sqrt(sizes / sizes.max()), "opacity": 0.6},
            hovertext=[f"{lab} ({int(s)} segments)" for lab, s in zip(themes[_LABEL], sizes)], hoverinfo="text",
        )
    )
    fig.update_layout(
        title=f"<b>Intertopic map</b> (theme centroids, first two principal components; {n} themes)",
        xaxis={"title": "PC1", "zeroline": False}, yaxis={"title": "PC2", "zeroline": False},
        width=700, height=650, template="simple_white",
    )
    return fig


# -- cache of fitted results (ThemeDiscoverer(memory=...)) ----------------------------------

_CACHE_FORMAT = "psythemes-themes-2"  # 2: entries carry content hashes
_FIGURES = ("barchart.html", "intertopic.html")
# whatever can change a fit's results besides its inputs and parameters
_CACHE_LIBRARIES = ("psythemes", "bertopic", "scikit-learn", "umap-learn", "hdbscan", "numpy", "scipy", "pandas",
                    "plotly")


class _ThemeCacheEntry:
    """The results of one fit on disk, ``<memory>/<key>/``: tables as Parquet, arrays as ``.npy``
    (no pickle), scalars as JSON and, once written, the figures (gzipped HTML).  The key hashes
    the code version, the parameters, the segment table with its metadata and the embeddings.
    An entry is built in a temporary folder and renamed into place: it is complete or absent.
    Entries are never changed afterwards (except for adding figures); delete the folder at will."""

    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def for_fit(cls, memory: Path, params: dict[str, Any], frame: pd.DataFrame, X: np.ndarray) -> _ThemeCacheEntry:
        from .caching import code_version, update_with_table

        digest = hashlib.sha256(f"{_CACHE_FORMAT}|{code_version(__file__, _CACHE_LIBRARIES)}".encode())
        digest.update(json.dumps({"params": params, "shape": list(X.shape)}, sort_keys=True, default=str).encode())
        update_with_table(digest, frame, index=False)
        digest.update(np.ascontiguousarray(X, dtype=np.float32).tobytes())
        return cls(memory / digest.hexdigest()[:40])

    def load(self, discoverer: ThemeDiscoverer) -> bool:
        """Set the fitted attributes of ``discoverer`` from the entry; False if there is none."""
        state_path = self.folder / "state.json"
        if not state_path.is_file():
            return False
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
            if state.get("format") != _CACHE_FORMAT:
                raise ValueError(f"format {state.get('format')!r}")
            from .caching import verify_content

            verify_content(self.folder, state.get("sha256"))  # e.g. theme ids shuffled on disk
            themes = pd.read_parquet(self.folder / "themes.parquet")
            segment_themes = pd.read_parquet(self.folder / "segment_themes.parquet")
            prevalence = {
                col: pd.read_parquet(self.folder / f"prevalence-{i}.parquet") for i, col in enumerate(state["prevalence"])
            }
            centroids = np.load(self.folder / "theme_centroids.npy", allow_pickle=False)
            labels = np.load(self.folder / "labels.npy", allow_pickle=False)
        except (OSError, ValueError, KeyError, TypeError) as err:
            warnings.warn(f"{self.folder}: damaged theme cache entry ({err}); deleted, the themes are fitted again",
                          PsythemesWarning, stacklevel=4)
            shutil.rmtree(self.folder, ignore_errors=True)
            return False
        discoverer.preset_ = state["preset_"]
        discoverer.initial_outlier_share_ = float(state["initial_outlier_share_"])
        discoverer.outlier_share_ = float(state["outlier_share_"])
        discoverer.themes_ = themes
        discoverer.segment_themes_ = segment_themes
        discoverer.prevalence_ = prevalence
        discoverer.theme_centroids_ = centroids
        discoverer.labels_ = labels
        discoverer.names_ = list(state.get("names_", []))
        discoverer.stability_ = state.get("stability_")
        discoverer.random_state_ = int(state.get("random_state_", discoverer.random_state))
        return True

    def store(self, discoverer: ThemeDiscoverer) -> None:
        """Write the fitted results (never fails the fit: a cache that cannot be written is skipped)."""
        if self.folder.is_dir():
            return
        tmp = self.folder.parent / f".tmp-{self.folder.name}-{uuid.uuid4().hex[:12]}"
        try:
            tmp.mkdir(parents=True)
            discoverer.themes_.to_parquet(tmp / "themes.parquet", index=False)
            discoverer.segment_themes_.to_parquet(tmp / "segment_themes.parquet", index=False)
            for i, table in enumerate(discoverer.prevalence_.values()):
                table.to_parquet(tmp / f"prevalence-{i}.parquet", index=False)
            np.save(tmp / "theme_centroids.npy", discoverer.theme_centroids_, allow_pickle=False)
            np.save(tmp / "labels.npy", np.asarray(discoverer.labels_), allow_pickle=False)
            from .caching import content_hashes

            files = sorted(p.name for p in tmp.iterdir() if p.is_file())
            state = {"format": _CACHE_FORMAT, "sha256": content_hashes(tmp, files), "preset_": discoverer.preset_,
                     "initial_outlier_share_": discoverer.initial_outlier_share_,
                     "outlier_share_": discoverer.outlier_share_, "prevalence": list(discoverer.prevalence_),
                     "names_": discoverer.names_, "stability_": discoverer.stability_,
                     "random_state_": discoverer.random_state_}
            (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")  # last: marks a complete entry
            os.replace(tmp, self.folder)
        except OSError as err:
            if not self.folder.is_dir():  # not just a concurrent run that stored the same entry first
                warnings.warn(f"could not write the theme cache ({err}); continuing without it",
                              PsythemesWarning, stacklevel=4)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def figures(self) -> dict[str, str] | None:
        """The cached figures' HTML, or None when they are not (all) there."""
        try:
            return {name: gzip.decompress((self.folder / "figures" / f"{name}.gz").read_bytes()).decode("utf-8")
                    for name in _FIGURES}
        except (OSError, EOFError, UnicodeDecodeError):
            return None

    def store_figures(self, figures: dict[str, str]) -> None:
        if not self.folder.is_dir():
            return
        try:
            for name, html in figures.items():
                write_bytes(self.folder / "figures" / f"{name}.gz", gzip.compress(html.encode("utf-8"), mtime=0))
        except OSError:
            pass  # the figures are drawn again next time


# -- one-call entry points ------------------------------------------------------------------


def discover_themes(
    segments: pd.DataFrame,
    *,
    embedder: Embedder | None = None,
    embeddings: np.ndarray | None = None,
    metadata: Mapping[str, Any] | pd.DataFrame | None = None,
    out_dir: str | Path | None = None,
    include_segments: bool = False,
    **params: Any,
) -> ThemeDiscoverer:
    """Embed segments (cached) and discover themes; write the results when ``out_dir`` is given.

    Parameters
    ----------
    segments : pandas.DataFrame
        Segment table.
    embedder : Embedder, optional
        Default: ``Embedder()`` (bundled model, default cache).
    embeddings : numpy.ndarray, optional
        Precomputed embeddings (then ``embedder`` only serves seed words).
    metadata : mapping or DataFrame, optional
        See :meth:`ThemeDiscoverer.fit`.
    out_dir : path, optional
        Folder for :meth:`ThemeDiscoverer.write`.
    include_segments : bool
        Also write ``segments.csv``.
    **params
        :class:`ThemeDiscoverer` parameters.

    Returns
    -------
    ThemeDiscoverer
        Fitted.
    """
    from .embed import Embedder

    if out_dir is not None:
        from .staging import check_out_dir

        check_out_dir(out_dir, stage_command=True)  # before the embedding work, not after it
    from .validate import check_seed

    check_seed(params.get("random_state"))  # also before the embedding work
    if embeddings is None:
        embedder = embedder if embedder is not None else Embedder()
        if len(segments) < 2:
            raise InputError(f"theme discovery needs at least 2 segments, got {len(segments)}")
        embeddings = embedder.embed_segments(segments)
    discoverer = ThemeDiscoverer(embedder=embedder, **params).fit(segments, embeddings, metadata=metadata)
    if out_dir is not None:
        discoverer.write(out_dir, include_segments=include_segments)
    return discoverer


def seed_words_from_codebook(codebook: Codebook | str | Path) -> dict[str, list[str]]:
    """Guided-mode seed words from a codebook's ``seed_words`` (``psythemes themes --guided``).

    Parameters
    ----------
    codebook : Codebook, path or str
        A :class:`~psythemes.codebook.Codebook`, a codebook file or a shipped name (see
        :func:`psythemes.codebook.load_codebook`).

    Returns
    -------
    dict of str to list of str
        ``{code name: seed words}`` for every code of the tree (children included) that has
        seed words, in codebook order: the ``seed_words`` of :class:`ThemeDiscoverer`.

    Raises
    ------
    InputError
        The codebook cannot be loaded, or none of its codes has seed words.
    """
    from .codebook import load_codebook

    book = load_codebook(codebook)
    seeds = {code.name: list(code.seed_words) for code in book.flat() if code.seed_words}
    if not seeds:
        raise InputError(
            f"codebook {book.name!r} has no seed_words: guided discovery needs at least one code with "
            "seed_words (see docs/codebook.md)", path=book.source or None)
    return seeds


# Moved to the file-level modules; still importable from here.
__getattr__ = forward(__name__, {
    "load_segments": "jobs",
    "parse_quotes": "tables",
    "quote_texts": "tables",
})
