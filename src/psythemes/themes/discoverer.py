"""The theme discoverer: BERTopic over precomputed segment embeddings, in memory.

:class:`ThemeDiscoverer` clusters segment embeddings (see :mod:`psythemes.embed`) with
BERTopic, every stage of which is handed in: dimension reduction and clustering
(:mod:`~psythemes.themes.presets`), the vectorizer, the c-TF-IDF model and the representation
models (:mod:`~psythemes.themes.descriptions`).  BERTopic never picks or downloads an
embedding model of its own.  ``n_runs`` adds a stability check (:mod:`psythemes.stability`).
Quotes are verbatim segments closest (cosine) to the theme's centroid, at most one per
transcript, kept as a long table (``quotes_``).

The discoverer reads and writes no files: :mod:`psythemes.tables` writes its tables,
:mod:`~psythemes.themes.figures` draws its figures, :mod:`psythemes.jobs` runs it on files.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..base import Params
from ..errors import InputError, NotFittedError, PsythemesWarning
from ..schema import (
    SEGMENT_COLUMNS,
    SEGMENT_THEME_COLUMNS,
    THEME_COLUMNS,
    THEME_QUOTE_COLUMNS,
    speaker_key,
)
from .cache import ARRAYS, SCALARS, TABLES, ThemeCacheEntry
from .descriptions import (
    KEYWORD_SEP,
    POS_MODEL,
    REPRESENTATIONS,
    embedding_backend,
    make_vectorizer,
    name_like_words,
    person_names,
    pos_model_available,
    preprocess,
    representation_models,
    theme_label,
    tokenize,
    transcript_stop_words,
    unit_rows,
)
from .presets import DOMINANT_SHARE, PRESETS, SMALL_CORPUS, dominant_share, import_bertopic
from .reduction import KeptReduction

if TYPE_CHECKING:
    from ..codebook import Codebook
    from ..embed import Embedder

__all__ = ["ThemeDiscoverer", "seed_words_from_codebook", "OUTLIER_THEME", "DECIMALS", "FALLBACKS"]

#: Values of ``ThemeDiscoverer(fallback=...)``.
FALLBACKS = ("auto", "always", "never")

# a stability check takes minutes: each run is announced at INFO (the CLI shows them beside its spinner)
_log = logging.getLogger("psythemes.themes")

_DOC, _SEGID, _SPEAKER, _ROLE, _START, _END, _TEXT = SEGMENT_COLUMNS[:7]
_THEME_ID, _LABEL, _KEYWORDS, _SIZE = THEME_COLUMNS
_PROB = SEGMENT_THEME_COLUMNS[2]
_WAVE = "wave"

#: theme id of segments that fit no theme (HDBSCAN noise)
OUTLIER_THEME = -1
#: decimals of floats in the result tables (keeps them byte-identical across runs)
DECIMALS = 4


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
    """Limit BLAS/OpenMP to one thread: on segment-sized matrices (thousands x 10) thread
    hand-offs cost more than they save (docs/performance.md, *Themes*), and sums come out in
    the same order every run."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


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
    representation : "auto", sequence of {"pos", "keybert", "together", "mmr"}, or None
        How keywords are chosen from a theme's c-TF-IDF candidates, steps chained in the
        given order: ``"pos"`` = only words mostly used as nouns, proper nouns, adjectives or
        verbs (spaCy's tagger on a sample of 2,000 segments,
        :class:`~psythemes.themes.keywords.ContentWords`); ``"keybert"`` = BERTopic's
        ``KeyBERTInspired`` (the candidates nearest the theme in embedding space);
        ``"together"`` = words the theme's segments use together
        (:class:`~psythemes.themes.keywords.WordsUsedTogether`); ``"mmr"`` = BERTopic's
        ``MaximalMarginalRelevance`` (diversity 0.3: no three near-synonyms).  ``"keybert"``
        and ``"mmr"`` embed the candidate words with ``embedder`` (offline, cached), which must
        be the model of the segment embeddings.  ``"auto"`` = ``"pos"`` when the spaCy model
        is installed (a warning says so when it is not), ``"keybert"`` when an ``embedder`` is
        given, then ``"together"``; ``None`` = plain c-TF-IDF.
    min_keyword_segments : int, default 2
        A keyword must be used in at least this many of the theme's segments
        (:class:`~psythemes.themes.keywords.SharedWords`): themes whose segments share fewer
        words get fewer keywords.  1 = any word of the theme.
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
    fallback : {"auto", "always", "never"}, default "auto"
        The ``default`` preset's second clustering (HDBSCAN again with ``min_samples =
        min_topic_size // 3``, :class:`~psythemes.themes.clustering.HDBSCANWithFallback`) for
        when one cluster holds more than half of the segments.  ``"auto"``: when that happens;
        with ``n_runs > 1`` the choice is made once for all the runs: as soon as one seeded run
        falls back, every run is clustered the finer way, so that the runs compared are of one
        kind.  ``"always"`` / ``"never"``: in every fit / in none (``"never"``: HDBSCAN as
        BERTopic runs it).  Applies to the preset's clusterer and to an ``hdbscan_model`` that is
        an ``HDBSCANWithFallback``.

    Attributes
    ----------
    themes_ : pandas.DataFrame
        One row per theme: :data:`~psythemes.schema.THEME_COLUMNS`, then ``share``, ``n_docs``,
        ``share_<role>`` (fraction of the theme's segments spoken in that role) and
        ``top_quotes`` (the theme's quotes as a JSON list, for spreadsheet readers; code reads
        ``quotes_``).
    quotes_ : pandas.DataFrame
        The representative quotes, one row per quote
        (:data:`~psythemes.schema.THEME_QUOTE_COLUMNS`: ``theme_id, rank, doc_id, segment_id,
        start, end, speaker, role, text, similarity``); written as ``theme_quotes.csv``.
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
    clustering_fallback_ : dict or None
        When the ``default`` preset's HDBSCAN clustered again with a smaller ``min_samples``
        (see ``fallback``): the largest cluster's share before and after, the ``min_samples``
        used and why (``"reason"``: ``"one cluster"``, ``"other runs"`` with the seeds of the
        runs that fell back in ``"seeds"``, or ``"asked"``); None otherwise.
    labels_ : numpy.ndarray
        Theme id of each segment (frame order; ``-1`` = outlier).
    segments_ : pandas.DataFrame
        The segment table as given (written as ``segments.csv`` on request).
    topic_model_ : bertopic.BERTopic
        The fitted model.  Not available after a fit read from ``memory`` (the cache keeps the
        results, not the model): reading it then raises :class:`~psythemes.errors.NotFittedError`
        saying so; nothing is ever fitted when an attribute is read.
    figures_ : dict of str to str or None
        With ``memory``: the two figures' HTML (drawn at fit time and stored with the fit, see
        :func:`psythemes.themes.figures.theme_figures`); None otherwise.
    from_cache_ : bool
        Whether the last ``fit`` was read from ``memory``.
    names_ : list of str
        Words removed from the keywords as people's names.
    stability_ : psythemes.stability.StabilityResult or None
        Runs, their agreement and the central run (``n_runs > 1``); themes_ then has the
        columns ``stability`` (mean best-match Jaccard over the other runs) and ``stable``.
    """

    # fitted attributes (declared for the type checker only: unset until fit, as hasattr checks expect)
    themes_: pd.DataFrame
    quotes_: pd.DataFrame
    theme_centroids_: np.ndarray
    segment_themes_: pd.DataFrame
    outlier_share_: float
    initial_outlier_share_: float
    prevalence_: dict[str, pd.DataFrame]
    preset_: str
    clustering_fallback_: dict[str, Any] | None
    labels_: np.ndarray
    segments_: pd.DataFrame
    figures_: dict[str, str] | None
    from_cache_: bool
    names_: list[str]
    stability_: dict[str, Any] | None
    random_state_: int

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
        min_keyword_segments: int = 2,
        names: str | Sequence[str] | None = "speakers",
        n_runs: int = 1,
        resample: float | None = None,
        fallback: str = "auto",
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
        self.min_keyword_segments = min_keyword_segments
        self.names = names
        self.n_runs = n_runs
        self.resample = resample
        self.fallback = fallback

    # -- checks ----------------------------------------------------------------------------
    def _validate(self, segments: pd.DataFrame, embeddings: np.ndarray) -> np.ndarray:
        if self.preset not in PRESETS:
            raise InputError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        for name in ("min_topic_size", "top_n_words", "n_quotes", "min_keyword_segments"):
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
            raise InputError(f"embeddings have shape {X.shape}, expected ({len(segments)}, dimension): "
                             "one row per segment")
        if len(segments) < 2:
            raise InputError(f"theme discovery needs at least 2 segments, got {len(segments)}")
        from ..validate import check_seed

        check_seed(self.random_state)
        if not np.isfinite(X).all():
            raise InputError("embeddings contain NaN or infinite values")
        if self.representation == "auto" and not pos_model_available():
            warnings.warn(f"keywords are not filtered by part of speech: the spaCy model {POS_MODEL} is not "
                          'installed (pip install "psythemes[sentence-model]")', PsythemesWarning, stacklevel=3)
        self._representation_names()
        if not isinstance(self.n_runs, (int, np.integer)) or self.n_runs < 1:
            raise InputError(f"n_runs must be an integer >= 1, not {self.n_runs!r}")
        if self.resample is not None and not (isinstance(self.resample, (int, float)) and 0 < self.resample < 1):
            raise InputError(f"resample must be a fraction between 0 and 1, not {self.resample!r}")
        if self.fallback not in FALLBACKS:
            raise InputError(f"fallback must be one of {', '.join(map(repr, FALLBACKS))}, not {self.fallback!r}")
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
                pos = ["pos"] if pos_model_available() else []
                return pos + (["keybert"] if self.embedder else []) + ["together"]
            rep = [rep]
        rep = list(rep)
        unknown = [r for r in rep if r not in REPRESENTATIONS]
        if unknown:
            raise InputError(f"unknown representation {unknown[0]!r}; choose from {', '.join(REPRESENTATIONS)}, "
                             "'auto' or None")
        return rep

    def _resolve_names(self, frame: pd.DataFrame) -> list[str]:
        if self.names is None:
            return []
        given = [] if isinstance(self.names, str) else [w for v in self.names for w in tokenize(preprocess(str(v)))]
        found = person_names(frame) if (self.names == "speakers" or not isinstance(self.names, str)) else []
        return sorted(set(found) | set(given))

    def _parts(self, n: int, n_features: int, seed: int, fallback: str) -> tuple[dict[str, Any], str]:
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
        parts["hdbscan_model"] = _with_fallback(parts["hdbscan_model"], fallback)
        return parts, ("custom" if custom else preset)

    # -- fit -------------------------------------------------------------------------------
    def fit(
        self,
        segments: pd.DataFrame,
        embeddings: np.ndarray,
        *,
        metadata: Mapping[str, Any] | pd.DataFrame | str | os.PathLike[str] | None = None,
    ) -> ThemeDiscoverer:
        """Discover themes.

        Parameters
        ----------
        segments : pandas.DataFrame
            Segment table (:data:`~psythemes.schema.SEGMENT_COLUMNS`; extra columns such as
            ``wave`` may follow).
        embeddings : numpy.ndarray
            One row per segment, in frame order (e.g. :meth:`psythemes.embed.Embedder.embed_segments`).
        metadata : mapping, DataFrame or path, optional
            Per-document variables for the prevalence tables: ``{doc_id: wave}``,
            ``{doc_id: {"wave": ..., ...}}``, a table with a ``doc_id`` column, or the path of
            such a table (CSV/TSV or ``.xlsx``, read by :func:`psythemes.tables.read_metadata`).

        Returns
        -------
        ThemeDiscoverer
            self, fitted.
        """
        X = self._validate(segments, embeddings)
        frame = _with_metadata(segments.reset_index(drop=True), metadata)
        # said on every fit, from the cache too; the cache key holds the texts it is guessed from
        self.language_, self.language_stop_words_ = self._language_stop_words(frame)
        entry = self._cache_entry(frame, X)
        self.from_cache_ = False
        self.figures_ = None
        self._topic_model = None
        stored = entry.load() if entry is not None else None
        if stored is not None:
            self._set_results(stored)
            self.segments_ = segments.reset_index(drop=True).copy()
            self.from_cache_ = True
            self._warn_name_like_labels(frame)
            return self
        self.names_ = self._resolve_names(frame)
        seed = self.random_state
        fell_back: list[int] = []  # seeds of stability runs that fell back
        self.stability_ = None
        if self.n_runs > 1:
            seed, runs, fell_back = self._stability_runs(frame, X)
            _log.info("the reported run (seed %d)", seed)
        self._fit_model(segments, X, frame, seed=seed, runs_fallen_back=fell_back)
        if self.n_runs > 1:
            self._add_stability(runs, seed, fell_back)
            self._runs = runs  # the light runs' partitions (benchmarks/theme_quality.py reads them)
        if entry is not None:
            from .figures import theme_figures

            # drawn now and stored with the fit: a fit read back from the cache has no BERTopic
            # model to draw them with (topic_model_ is not cached)
            self.figures_ = theme_figures(self)
            entry.store(self._results())
        self._warn_name_like_labels(frame)
        return self

    def _warn_name_like_labels(self, frame: pd.DataFrame) -> None:
        """Say when theme labels hold words the transcripts write like names: a person talked
        about, whom no speaker label or metadata column names, can make a theme of their own."""
        if self.names is None or self.themes_.empty:
            return
        shown = [*self.themes_[_LABEL].astype(str), *(kw for cell in self.themes_[_KEYWORDS].astype(str)
                                                     for kw in cell.split(KEYWORD_SEP.strip()))]
        found = name_like_words([kw.strip() for kw in shown], frame[_TEXT].fillna("").astype(str).tolist())
        if found:
            warnings.warn(f"theme keywords hold {len(found)} word(s) that the transcripts write like names: "
                          f"{', '.join(found)}; where they name people, leave them out with names=[...] "
                          "(psythemes themes --names FILE)", PsythemesWarning, stacklevel=3)

    def _results(self) -> dict[str, Any]:
        """The fitted results the theme cache stores, by attribute name."""
        names = (*TABLES, *ARRAYS, *SCALARS, "prevalence_", "figures_")
        return {name: getattr(self, name) for name in names}

    def _set_results(self, results: Mapping[str, Any]) -> None:
        """Take the results of a fit read from the theme cache (as :meth:`_results` gave them)."""
        for name, value in results.items():
            setattr(self, name, value)
        self.initial_outlier_share_ = float(self.initial_outlier_share_)
        self.outlier_share_ = float(self.outlier_share_)
        self.names_ = list(self.names_)
        self.random_state_ = int(self.random_state_)

    def _stability_runs(self, frame: pd.DataFrame, X: np.ndarray) -> tuple[int, list[dict[str, Any]], list[int]]:
        """Fit the seeds (and resamples) as light runs; return the central seed, the runs and the
        seeds of the seeded runs that fell back (see ``fallback``)."""
        from ..stability import central_run

        params = self.get_params(deep=False)
        params.update(representation=None, by=(), n_runs=1, resample=None, memory=None, n_quotes=1,
                      names=list(self.names_), embedder=self.embedder if self.seed_words else None)
        if self.language_stop_words_:  # the runs take the words as given: guessed (and said) once
            params["stop_words"] = sorted({*transcript_stop_words(), *self.language_stop_words_})
        n = len(frame)
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

        def light_run(kind: str, seed: int, mask: np.ndarray | None, fallback: str,
                      layout: np.ndarray | None = None) -> dict[str, Any]:
            """One run; ``layout``: this run's reduction from an earlier fit (only the clustering changes)."""
            rows = np.arange(n) if mask is None else np.flatnonzero(mask)
            labels = np.full(n, OUTLIER_THEME, dtype=int)
            fell_back = False
            if len(rows) >= 2:
                with warnings.catch_warnings():
                    # e.g. a small resample falling back to 'fast': the reported run warns, not these
                    warnings.simplefilter("ignore", PsythemesWarning)
                    light = ThemeDiscoverer(**{**params, "random_state": seed, "fallback": fallback})
                    part = frame.iloc[rows].reset_index(drop=True)
                    light._fit_model(part, X if mask is None else X[rows], part, seed=seed, layout=layout)
                labels[rows] = light.labels_
                fell_back = light.clustering_fallback_ is not None
                layout = light._layout
            covered = np.zeros(n, dtype=bool)
            covered[rows] = True
            return {"kind": kind, "seed": seed, "labels": labels, "covered": covered,
                    "n_docs": int(frame[_DOC].iloc[rows].nunique()), "fell_back": fell_back, "layout": layout}

        runs: list[dict[str, Any]] = []
        for k, (kind, seed, mask) in enumerate(plans, start=1):
            resampled = ", resampled" if kind == "resample" else ""
            _log.info("stability run %d of %d (seed %d%s)", k, len(plans), seed, resampled)
            runs.append(light_run(kind, seed, mask, self.fallback))
        fell_back = [int(r["seed"]) for r in runs if r["kind"] == "seed" and r["fell_back"]
                     and self.fallback == "auto"]
        if fell_back:
            _log.info("clustering %d run(s) again, finer", sum(not r["fell_back"] for r in runs))
            # one decision for all the runs: cluster again those clustered the other way, on the
            # layout they have (the same seed on the same rows would give the same one)
            runs = [r if r["fell_back"] else light_run(kind, seed, mask, "always", r["layout"])
                    for r, (kind, seed, mask) in zip(runs, plans, strict=True)]
        seed_runs = [i for i, r in enumerate(runs) if r["kind"] == "seed"]
        centre, sim = central_run([r["labels"] for r in runs], [r["covered"] for r in runs], candidates=seed_runs)
        self._run_similarity = sim
        runs[centre]["central"] = True
        for run in runs:  # needed only until the fallback decision is made
            del run["layout"]
        return int(runs[centre]["seed"]), runs, fell_back

    def _add_stability(self, runs: list[dict[str, Any]], seed: int, fell_back: list[int]) -> None:
        """Per-theme stability of the reported run against every other run; a summary in stability_."""
        from ..stability import STABLE_JACCARD, theme_stability

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
            # seeded runs in which one cluster held over half of the segments (``fallback``)
            "seeds_fallen_back": fell_back,
            "runs": [{"kind": r["kind"], "seed": r["seed"], "n_docs": r["n_docs"],
                      "n_themes": len(set(r["labels"][r["covered"]].tolist()) - {OUTLIER_THEME}),
                      "central": bool(r.get("central", False))} for r in runs],
            "run_similarity": np.round(sim, DECIMALS).tolist(),
            "mean_run_similarity": round(float(np.nanmean(sim[np.triu_indices(len(sim), 1)])), DECIMALS)
            if len(sim) > 1 else None,
            "mean_theme_stability": round(float(np.mean(np.asarray(values)[finite])), DECIMALS)
            if finite.any() else None,
            "weighted_theme_stability": round(float(np.average(np.asarray(values)[finite], weights=sizes[finite])),
                                              DECIMALS) if finite.any() else None,
            "n_unstable": int(sum(1 for v in values if not v >= STABLE_JACCARD)),
        }

    def _fit_model(self, segments: pd.DataFrame, X: np.ndarray, frame: pd.DataFrame, seed: int | None = None,
                   runs_fallen_back: Sequence[int] = (), layout: np.ndarray | None = None) -> None:
        """One fit: the reported one, or a stability run's (:meth:`_stability_runs`).

        ``runs_fallen_back``: seeds of stability runs that fell back (``fallback="auto"``),
        which make this fit cluster the finer way too; ``layout``: the reducer's output on these
        rows in an earlier fit with this seed, used instead of fitting the reducer again (stability
        runs only: the model's reducer then stays unfitted)."""
        frame = frame.copy()
        texts = frame[_TEXT].fillna("").astype(str).tolist()
        n = len(texts)
        seed = self.random_state if seed is None else seed
        self.random_state_ = seed
        parts, self.preset_ = self._parts(n, X.shape[1], seed, "always" if runs_fallen_back else self.fallback)
        parts["umap_model"] = KeptReduction(parts["umap_model"], layout)
        if not hasattr(self, "names_"):
            self.names_ = self._resolve_names(frame)
        if not hasattr(self, "language_stop_words_"):
            self.language_, self.language_stop_words_ = self._language_stop_words(frame)

        import_bertopic()
        from bertopic import BERTopic
        from bertopic.vectorizers import ClassTfidfTransformer

        vectorizer = (
            _fresh(self.vectorizer_model) if self.vectorizer_model is not None
            else make_vectorizer(self.stop_words, extra_stop_words=[*self.names_, *self.language_stop_words_])
        )
        # reduce_frequent_words damps words that every theme uses a lot (common in speech)
        ctfidf = ClassTfidfTransformer(reduce_frequent_words=True)
        seed_topic_list = None
        backend = None
        if self.seed_words:
            seed_topic_list = [list(map(str, words)) for words in self.seed_words.values()]
            if any(not words for words in seed_topic_list):
                raise InputError("every seed_words entry needs at least one word")
        names = self._representation_names()
        representation = representation_models(names, self.top_n_words, seed, self.min_keyword_segments)
        if self.seed_words or {"keybert", "mmr"} & set(names):
            backend = embedding_backend(self._seed_embedder(X.shape[1]))
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
            # guided mode shifts the embeddings it is given in place: a copy then (only then: UMAP
            # keeps a reference to its input, so a copy would stay in memory with the model)
            try:
                topics, probs = model.fit_transform(texts, X.copy() if seed_topic_list else X)
            except ValueError as err:
                if "empty vocabulary" not in str(err):
                    raise
                raise InputError("the segments hold no words but stop words (e.g. only short questions): "
                                 "nothing to describe themes with") from None
        topics = np.asarray(topics, dtype=int)
        # the reducer itself goes back into the model (users may transform new segments with it)
        self._layout = model.umap_model.layout_
        model.umap_model = model.umap_model.reducer
        # HDBSCAN's membership strength; clusterers without probabilities (k-means) give None
        probability = np.full(n, np.nan) if probs is None else np.asarray(probs, dtype=float).reshape(n, -1)[:, 0]
        self.initial_outlier_share_ = float(np.mean(topics == OUTLIER_THEME))
        unit = unit_rows(X)

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
        self.clustering_fallback_ = _fallback_summary(model.hdbscan_model, self.fallback, runs_fallen_back,
                                                      self.n_runs)

        theme_ids = sorted(int(t) for t in set(topics.tolist()) if t != OUTLIER_THEME)
        all_ids = sorted(set(topics.tolist()))
        centroids = dict(zip(all_ids, _centroid_matrix(unit, topics), strict=True))
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
        labels = {t: theme_label(keywords[t], texts_arr[topics == t]) for t in theme_ids}
        with _quiet_bertopic():
            model.set_topic_labels({**labels, **({OUTLIER_THEME: "outliers"} if OUTLIER_THEME in all_ids else {})})

        available = set(frame.columns)
        frame[_ROLE] = _fill_group(frame[_ROLE]) if _ROLE in frame.columns else "unknown"
        self.themes_, self.quotes_ = self._themes_table(frame, topics, similarity, theme_ids, keywords, labels)
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
        """The fitted BERTopic model.

        Raises
        ------
        NotFittedError
            Before ``fit``, and after a fit read from the theme cache (``memory``): the cache
            stores the results, not the model (fit with ``memory=None`` to keep it).  Reading
            this attribute never fits anything.
        """
        self._check_fitted("topic_model_")
        if self._topic_model is None:
            raise NotFittedError(
                "topic_model_ is not available: this fit was read from the theme cache "
                f"(memory={str(self.memory)!r}), which keeps the results but not the BERTopic model; "
                "fit with memory=None to get the model")
        return self._topic_model

    def __getattr__(self, name: str) -> Any:
        # only reached for missing attributes: a learned one (``themes_``) before fit gets the
        # message topic_model_ gives; NotFittedError is an AttributeError, so hasattr() still works
        prop = getattr(type(self), name, None)
        if isinstance(prop, property) and prop.fget is not None:
            return prop.fget(self)  # a property's own AttributeError lands here: raise it again, message and all
        if name.endswith("_") and not name.startswith("_") and "themes_" not in self.__dict__:
            raise NotFittedError(f"{name}: this ThemeDiscoverer is not fitted yet; call fit() first")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _language_stop_words(self, frame: pd.DataFrame) -> tuple[str | None, list[str]]:
        """With the default stop words, the segments' language when it is clearly not English,
        and spaCy's stop words for it (said in a warning): Dutch themes were labelled
        "ik mijn · het"."""
        if self.stop_words != "transcript" or self.vectorizer_model is not None:
            return None, []
        from ..language import clearly_not_english, guess_language, stop_words

        guess = guess_language(frame[_TEXT].fillna("").astype(str))
        if guess is None or not clearly_not_english(guess) or not stop_words(guess.code):
            return None, []
        words = sorted(stop_words(guess.code))
        warnings.warn(f"the segments look {guess.name}: theme keywords leave out spaCy's {len(words)} {guess.name} "
                      "stop words as well as the English ones (stop_words= a list of your own to choose)",
                      PsythemesWarning, stacklevel=4)
        return guess.code, words

    def _check_fitted(self, what: str) -> None:
        if not hasattr(self, "themes_"):
            raise NotFittedError(f"{what}: this ThemeDiscoverer is not fitted yet; call fit() first")

    def _cache_entry(self, frame: pd.DataFrame, X: np.ndarray) -> ThemeCacheEntry | None:
        """The cache entry of this fit, or None (no ``memory``, or parts we cannot fingerprint)."""
        if self.memory is None or any(
            p is not None for p in (self.umap_model, self.hdbscan_model, self.vectorizer_model)
        ):
            return None
        params = {
            name: getattr(self, name)
            for name in ("preset", "min_topic_size", "n_themes", "random_state", "seed_words", "reduce_outliers",
                         "top_n_words", "n_quotes", "stop_words", "by", "names", "n_runs", "resample", "fallback",
                         "min_keyword_segments")
        }
        params["representation"] = self._representation_names()
        if "pos" in params["representation"]:
            from importlib.metadata import PackageNotFoundError, version

            try:
                params["pos_model"] = version(POS_MODEL)
            except PackageNotFoundError:
                params["pos_model"] = None
        if self.seed_words or {"keybert", "mmr"} & set(params["representation"]):
            # guided mode embeds the seed words: the model is part of the input
            from ..embed import Embedder

            embedder = self.embedder if self.embedder is not None else Embedder()
            params["seed_model"] = getattr(embedder, "model_fingerprint_", None)
            if params["seed_model"] is None:
                return None  # an embedder we cannot fingerprint
        return ThemeCacheEntry.for_fit(Path(self.memory), params, frame, X)

    def _seed_embedder(self, dimension: int) -> Embedder:
        from ..embed import Embedder

        embedder = self.embedder if self.embedder is not None else Embedder()
        probe = embedder.encode(["probe"])
        if probe.shape[1] != dimension:
            raise InputError(
                f"seed words and keywords are embedded with a {probe.shape[1]}-dimensional model but the segment "
                f"embeddings have {dimension} dimensions: pass the embedder that made them"
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
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The themes table and the quotes' long table (:data:`~psythemes.schema.THEME_QUOTE_COLUMNS`)."""
        n = len(frame)
        roles = sorted(frame[_ROLE].unique().tolist())
        role_cols = {r: f"share_{column_slug(r)}" for r in roles}
        rows: list[dict[str, Any]] = []
        quote_rows: list[dict[str, Any]] = []
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
            quotes = _quotes(frame, members, similarity, self.n_quotes)
            # the JSON cell stays for spreadsheet readers; code reads quotes_ (theme_quotes.csv)
            row["top_quotes"] = json.dumps(quotes, ensure_ascii=False)
            rows.append(row)
            quote_rows.extend({_THEME_ID: t, "rank": rank, **q} for rank, q in enumerate(quotes, start=1))
        columns = [*THEME_COLUMNS, "share", "n_docs", *role_cols.values(), "top_quotes"]
        quote_table = pd.DataFrame(quote_rows, columns=THEME_QUOTE_COLUMNS)
        for col in (_START, _END):
            quote_table[col] = quote_table[col].astype("Int64")  # offsets may be missing (hand-made tables)
        quote_table["rank"] = quote_table["rank"].astype(int)
        quote_table[_THEME_ID] = quote_table[_THEME_ID].astype(int)
        return pd.DataFrame(rows, columns=columns), quote_table

    # -- results ---------------------------------------------------------------------------
    @property
    def by_role_(self) -> pd.DataFrame | None:
        """Theme prevalence per role (None when not tabulated)."""
        self._check_fitted("by_role_")
        return self.prevalence_.get(_ROLE)

    @property
    def by_wave_(self) -> pd.DataFrame | None:
        """Theme prevalence per wave (None without wave information)."""
        self._check_fitted("by_wave_")
        return self.prevalence_.get(_WAVE)

    def summary(self) -> dict[str, Any]:
        """Options and headline counts of the fitted model (also written as ``themes_run.json``)."""
        self._check_fitted("summary()")
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
            # another language's stop words added to the keywords' (see _language_stop_words)
            "stop_words_language": getattr(self, "language_", None),
            "random_state_used": self.random_state_,
            "clustering_fallback": self.clustering_fallback_,
            "stability": self.stability_,
        }

    def __repr__(self) -> str:
        return (f"ThemeDiscoverer(preset={self.preset!r}, min_topic_size={self.min_topic_size}, "
                f"n_themes={self.n_themes})")


# -- helpers --------------------------------------------------------------------------------


def _warn_if_one_theme_dominates(topics: np.ndarray) -> None:
    """HDBSCAN on short, similar turns (chat, support dialogues) can put most segments in one
    cluster (ESConv: docs/performance.md, *Themes*)."""
    share = dominant_share(topics)
    if share > DOMINANT_SHARE:
        n_themes = len(set(topics.tolist()) - {OUTLIER_THEME})
        warnings.warn(
            f"one theme holds {share:.0%} of the segments ({n_themes} themes in all): "
            "the clustering found little structure; try the 'fast' preset or a smaller min_topic_size",
            PsythemesWarning, stacklevel=3)


def _with_fallback(clusterer: Any, fallback: str) -> Any:
    """``clusterer`` made to cluster again always / never (``fallback``), when it is an
    :class:`~psythemes.themes.clustering.HDBSCANWithFallback`; any other clusterer as given."""
    if fallback == "auto":
        return clusterer
    from hdbscan import HDBSCAN

    from .clustering import HDBSCANWithFallback, always_finer

    if not isinstance(clusterer, HDBSCANWithFallback):
        return clusterer
    return always_finer(clusterer) if fallback == "always" else HDBSCAN(**clusterer.get_params())


def _fallback_summary(clusterer: Any, fallback: str, runs_fallen_back: Sequence[int],
                      n_runs: int) -> dict[str, Any] | None:
    """``clustering_fallback_`` of a fit (see :class:`ThemeDiscoverer`); warns unless it was asked for."""
    summary = getattr(clusterer, "fallback_", None)
    if summary is None:
        return None
    summary = dict(summary)
    if fallback == "always":
        summary["reason"] = "asked"
        return summary
    own = summary["largest_share_before"] > DOMINANT_SHARE
    summary["reason"] = "one cluster" if own else "other runs"
    if runs_fallen_back:
        summary["seeds"] = list(runs_fallen_back)
    after = (f"HDBSCAN clustered again with min_samples={summary['min_samples']} (largest theme now "
             f"{summary['largest_share_after']:.0%} of the segments)")
    if own:
        message = f"one cluster held {summary['largest_share_before']:.0%} of the segments; {after}"
    else:
        message = (f"this run's largest cluster held {summary['largest_share_before']:.0%} of the segments, but "
                   f"one cluster held more than half in another seeded run; {after}")
    if runs_fallen_back and len(runs_fallen_back) < n_runs:
        message += (f". {len(runs_fallen_back)} of the {n_runs} seeded runs needed it (seeds "
                    f"{', '.join(map(str, runs_fallen_back))}); all were clustered this way, so that "
                    "the stability check compares runs of one kind")
    warnings.warn(message, PsythemesWarning, stacklevel=3)
    return summary


def _fresh(part: Any) -> Any:
    """An unfitted copy of a user's part (scikit-learn ``clone`` where it applies)."""
    if hasattr(part, "get_params"):
        from sklearn.base import clone

        return clone(part)
    return copy.deepcopy(part)


def _centroid_matrix(unit: np.ndarray, topics: np.ndarray) -> np.ndarray:
    """Unit-length mean vector of each topic, rows in sorted topic order (-1 first when present)."""
    return np.vstack([unit_rows(unit[topics == t].mean(axis=0, keepdims=True)) for t in sorted(set(topics.tolist()))])


def column_slug(value: str) -> str:
    """A column value as part of a column or file name (``"Wave 2"`` -> ``wave_2``)."""
    # letters of every script: with ASCII only, the roles "терапевт" and "пациент" both became share_unknown
    return re.sub(r"[\W_]+", "_", str(value).casefold()).strip("_") or "unknown"


def _fill_group(values: pd.Series) -> pd.Series:
    out = values.astype(object).where(values.notna(), "")
    out = out.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip())
    return out.where(out != "", "unknown")


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


def _with_metadata(frame: pd.DataFrame,
                   metadata: Mapping[str, Any] | pd.DataFrame | str | os.PathLike[str] | None) -> pd.DataFrame:
    """The segment table plus per-document metadata columns it does not already have."""
    if metadata is None:
        return frame.copy()
    if isinstance(metadata, (str, os.PathLike)):
        from ..tables import read_metadata

        metadata = read_metadata(os.fspath(metadata))
    if isinstance(metadata, pd.DataFrame):
        if _DOC not in metadata.columns:
            raise InputError("metadata table needs a 'doc_id' column")
        meta = metadata.copy()
        if "speaker" in meta.columns:  # a row per speaker, not yet folded into its document's row
            from ..tables import check_metadata

            meta = check_metadata(meta)
    elif isinstance(metadata, Mapping):
        records = [
            {_DOC: doc, **(dict(v) if isinstance(v, Mapping) else {_WAVE: v})} for doc, v in metadata.items()
        ]
        meta = pd.DataFrame(records, columns=None if records else [_DOC])
    else:
        raise InputError("metadata must be a mapping doc_id -> wave/dict, a table with a doc_id column or "
                         f"the path of one, not {type(metadata).__name__}")
    meta[_DOC] = meta[_DOC].astype(str)
    meta = meta.drop_duplicates(_DOC, keep="last")
    speaker_rows = _speaker_rows(meta)
    new_cols = [c for c in meta.columns if c == _DOC or (c not in frame.columns and c != "speakers")]
    out = frame.copy()
    out["_doc_key"] = out[_DOC].astype(str)
    out = out.merge(meta[new_cols].rename(columns={_DOC: "_doc_key"}), on="_doc_key", how="left")
    if not speaker_rows.empty and "speaker" in out:
        # a focus group member's own cells (gender, age group) replace the document's for her turns
        out["_speaker_key"] = out["speaker"].fillna("").astype(str).map(speaker_key)
        own = out[["_doc_key", "_speaker_key"]].merge(speaker_rows, on=["_doc_key", "_speaker_key"], how="left")
        for col in speaker_rows.columns.drop(["_doc_key", "_speaker_key"]):
            if col in frame.columns:
                continue  # the segment table's own columns (role) stay as segmenting resolved them
            mine = own[col].to_numpy()
            if col in out:
                out[col] = out[col].astype(object).where(pd.isna(mine), mine)
            else:
                out[col] = mine
        out = out.drop(columns="_speaker_key")
    return out.drop(columns="_doc_key")


def _speaker_rows(meta: pd.DataFrame) -> pd.DataFrame:
    """The metadata's speaker rows (a ``speakers`` column, see :func:`psythemes.tables.check_metadata`)
    as a table keyed by document and speaker label (case and spacing ignored)."""
    if "speakers" not in meta.columns:
        return pd.DataFrame()
    rows = [{"_doc_key": doc, "_speaker_key": speaker_key(str(label)), **cells}
            for doc, speakers in zip(meta[_DOC], meta["speakers"], strict=True) if isinstance(speakers, Mapping)
            for label, cells in speakers.items()]
    # "Anna" and "ANNA" in one transcript carry the same row: one per key, or the merge doubles turns
    return pd.DataFrame(rows).drop_duplicates(["_doc_key", "_speaker_key"]) if rows else pd.DataFrame()


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
            words[(int(rec.Topic), str(rec.Class))] = KEYWORD_SEP.join(
                w.strip() for w in rec.Words.split(",") if w.strip())
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
                    f"share_of_{column_slug(col)}": round(k / int(group_totals[g]), DECIMALS),
                    "share_of_theme": round(k / int(theme_totals[t]), DECIMALS),
                    _KEYWORDS: words.get((t, g), "") if k else "",
                }
            )
    columns = [_THEME_ID, _LABEL, col, "n_segments", f"share_of_{column_slug(col)}", "share_of_theme", _KEYWORDS]
    return pd.DataFrame(rows, columns=columns)


def _natural_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)

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
    from ..codebook import load_codebook

    book = load_codebook(codebook)
    seeds = {code.name: list(code.seed_words) for code in book.flat() if code.seed_words}
    if not seeds:
        raise InputError(
            f"codebook {book.name!r} has no seed_words: guided discovery needs at least one code with "
            "seed_words (see docs/codebook.md)", path=book.source or None)
    return seeds
