"""Keyword steps chained before BERTopic's own representation models.

BERTopic hands each representation model the theme's top c-TF-IDF words and the model returns
a new ranking.  psythemes puts two filters first:

* :class:`SharedWords`: only words that at least ``min_segments`` of the theme's segments use.
  c-TF-IDF weighs a word said ten times by one speaker like a word said once in ten segments,
  so one anecdote ("donkey", "pigeons") could fill a theme's keywords; a keyword should be what
  the theme's segments have in common.  A theme whose segments share fewer words gets fewer
  keywords, never padding.
* :class:`ContentWords`: only words mostly used as nouns, proper nouns, adjectives or verbs
  (spaCy's part of speech over a seeded sample of segments): no numbers ("thirty"), adverbs
  ("incredibly") or interjections ("cheers") that the stop lists miss.

:class:`KeyBERTOnCandidates` is BERTopic's ``KeyBERTInspired`` re-ranking the candidates it is
handed; the original takes c-TF-IDF's top words again and would undo both filters.

This module imports BERTopic; :func:`psythemes.themes.descriptions.representation_models`
imports it only when a theme model is fitted.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import InputError
from .descriptions import POS_MODEL, preprocess
from .presets import import_bertopic

import_bertopic()  # before any bertopic module: keeps psythemes' warnings audible
from bertopic.representation import BaseRepresentation, KeyBERTInspired, MaximalMarginalRelevance  # noqa: E402

__all__ = ["WordUse", "SharedWords", "ContentWords", "KeyBERTOnCandidates", "WordsUsedTogether", "ShortListMMR",
           "CONTENT_TAGS"]

#: Parts of speech a keyword's words may have (Universal POS tags).
CONTENT_TAGS: tuple[str, ...] = ("NOUN", "PROPN", "ADJ", "VERB")
# BERTopic's placeholder for a theme without candidates: ("", tiny score)
_EMPTY = [("", 1e-05)]

Topics = Mapping[int, Sequence[tuple[str, float]]]


def _use_by_theme(topic_model: Any, documents: pd.DataFrame) -> tuple[Any, np.ndarray, dict[int, int], np.ndarray]:
    """(segments x vocabulary 0/1 use, vocabulary, theme label -> c-TF-IDF row, each segment's row)."""
    vectorizer = topic_model.vectorizer_model
    used = (vectorizer.transform(documents["Document"].astype(str)) > 0).astype(np.int32).tocsr()
    # c-TF-IDF rows follow the sorted topic labels (BERTopic groups documents by topic)
    labels = sorted(int(t) for t in pd.unique(documents["Topic"]))
    row_of = {label: i for i, label in enumerate(labels)}
    rows = np.array([row_of[int(t)] for t in documents["Topic"]], dtype=int)
    return used, vectorizer.get_feature_names_out(), row_of, rows


class WordUse:
    """:func:`_use_by_theme` computed once per keyword extraction and shared by the chain's steps.

    :class:`SharedWords` and :class:`WordsUsedTogether` both need which segments use which word;
    each would otherwise vectorize every segment again.  The result is reused only for the same
    ``documents`` object with the same theme column and the same fitted vocabulary (BERTopic
    refits the vectorizer and reassigns themes between extractions); it is never pickled.
    """

    def __init__(self) -> None:
        self._last: tuple[Any, ...] | None = None

    def __call__(self, topic_model: Any, documents: pd.DataFrame) -> tuple[Any, np.ndarray, dict[int, int], np.ndarray]:
        vocabulary = getattr(topic_model.vectorizer_model, "vocabulary_", None)
        topics = hashlib.sha256(np.ascontiguousarray(documents["Topic"].to_numpy(dtype=np.int64)).tobytes()).digest()
        if self._last is not None:
            ref, last_vocabulary, last_topics, result = self._last
            if ref() is documents and last_vocabulary is vocabulary and last_topics == topics:
                return result
        result = _use_by_theme(topic_model, documents)
        # the vocabulary itself is held, so ``is`` cannot match a new dict at a recycled address;
        # the matrix is dropped with the documents it describes rather than kept with the model
        self._last = (weakref.ref(documents, self._forget), vocabulary, topics, result)
        return result

    def _forget(self, ref: weakref.ref) -> None:
        if self._last is not None and self._last[0] is ref:
            self._last = None

    def __getstate__(self) -> dict[str, Any]:
        return {"_last": None}


class SharedWords(BaseRepresentation):
    """Keyword candidates used in at least ``min_segments`` of a theme's segments, by c-TF-IDF.

    Parameters
    ----------
    min_segments : int, default 2
        Segments of the theme that must use a word (or bigram) for it to be a keyword.
    n_candidates : int, default 30
        Candidates handed to the next step, best c-TF-IDF first.
    word_use : WordUse or None
        Shared with the other steps of the chain (None: computed here).
    """

    def __init__(self, min_segments: int = 2, n_candidates: int = 30, word_use: WordUse | None = None):
        self.min_segments = min_segments
        self.n_candidates = n_candidates
        self.word_use = word_use

    def extract_topics(self, topic_model: Any, documents: pd.DataFrame, c_tf_idf: Any, topics: Topics,
                       embeddings: Any = None) -> dict[int, list[tuple[str, float]]]:
        used, words, row_of, rows = (self.word_use or _use_by_theme)(topic_model, documents)
        membership = sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, np.arange(len(rows)))),
                                   shape=(len(row_of), len(rows)))
        n_segments = (membership @ used).toarray()  # themes x vocabulary: segments using the word
        weights = sp.csr_matrix(c_tf_idf)
        out: dict[int, list[tuple[str, float]]] = {}
        for label in topics:
            row = row_of.get(int(label))
            if row is None:
                out[label] = list(_EMPTY)
                continue
            weight = weights[row].toarray().ravel()
            ok = np.flatnonzero((n_segments[row] >= self.min_segments) & (weight > 0))
            best = ok[np.argsort(-weight[ok], kind="stable")][: self.n_candidates]
            out[label] = [(str(words[j]), float(weight[j])) for j in best] or list(_EMPTY)
        return out


class ContentWords(BaseRepresentation):
    """Drops candidates with a word mostly used as anything but a noun, proper noun, adjective or verb.

    A word's part of speech is its most frequent tag over a seeded sample of at most ``sample``
    segments; words the sample does not contain are kept (no evidence against them).

    Parameters
    ----------
    model : str, default POS_MODEL
        Installed spaCy pipeline with a tagger.
    keep : sequence of str, default CONTENT_TAGS
    sample : int, default 2000
        Segments tagged (the cost is fixed whatever the corpus size: about 5 s on one core).
    random_state : int, default 0
    """

    def __init__(self, model: str = POS_MODEL, keep: Sequence[str] = CONTENT_TAGS, sample: int = 2000,
                 random_state: int = 0):
        self.model = model
        self.keep = tuple(keep)
        self.sample = sample
        self.random_state = random_state
        self._tags: tuple[str, dict[str, str]] | None = None

    def extract_topics(self, topic_model: Any, documents: pd.DataFrame, c_tf_idf: Any, topics: Topics,
                       embeddings: Any = None) -> dict[int, list[tuple[str, float]]]:
        tags = self.word_tags(documents["Document"].astype(str).tolist())
        keep = set(self.keep)
        out: dict[int, list[tuple[str, float]]] = {}
        for label, candidates in topics.items():
            chosen = [(w, s) for w, s in candidates
                      if w and all(t not in tags or tags[t] in keep for t in w.split())]
            out[label] = chosen or list(_EMPTY)
        return out

    def word_tags(self, texts: Sequence[str]) -> dict[str, str]:
        """Most frequent part of speech of each lower-case word in a seeded sample of ``texts``."""
        rng = np.random.default_rng(self.random_state)
        picked = np.sort(rng.choice(len(texts), size=min(self.sample, len(texts)), replace=False))
        sample = [preprocess(texts[i]) for i in picked]
        key = hashlib.sha256("\x00".join(sample).encode("utf-8")).hexdigest()
        if self._tags is not None and self._tags[0] == key:
            return self._tags[1]
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for doc in _tagger(self.model).pipe(sample, batch_size=256):
            for token in doc:
                counts[token.lower_][token.pos_] += 1
        tags = {word: c.most_common(1)[0][0] for word, c in counts.items()}
        self._tags = (key, tags)
        return tags

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_tags"} | {"_tags": None}


class KeyBERTOnCandidates(KeyBERTInspired):
    """BERTopic's ``KeyBERTInspired`` that re-ranks the candidates handed to it.

    The original re-reads the top words from the c-TF-IDF matrix, discarding the steps before it.
    """

    def _extract_candidate_words(self, topic_model: Any, c_tf_idf: Any, topics: Topics) -> dict[int, tuple[str, ...]]:
        return {label: tuple(w for w, _ in list(values)[: self.nr_candidate_words]) or ("",)
                for label, values in topics.items()}


class WordsUsedTogether(BaseRepresentation):
    """Chooses ``top_n_words`` of the candidates that the theme's segments use together.

    Greedy: the best candidate first, then each time the candidate with the highest
    ``score / best score + weight * mean Jaccard`` with the words already chosen, where the
    Jaccard of two words is the share of the theme's segments using both among those using
    either.  A theme described by words that occur in different segments ("drink", "alcohol",
    "binge" said by different clients) reads as a list; words its segments share read as what
    the theme is about.  With ``require_co_use``, a candidate that no segment of the theme uses
    together with an already chosen keyword is not added: the theme gets fewer keywords.

    Parameters
    ----------
    top_n_words : int, default 10
    weight : float, default 1.0
        Weight of co-use against the previous step's ranking.
    require_co_use : bool, default True
    word_use : WordUse or None
        Shared with the other steps of the chain (None: computed here).
    """

    def __init__(self, top_n_words: int = 10, weight: float = 1.0, require_co_use: bool = True,
                 word_use: WordUse | None = None):
        self.top_n_words = top_n_words
        self.weight = weight
        self.require_co_use = require_co_use
        self.word_use = word_use

    def extract_topics(self, topic_model: Any, documents: pd.DataFrame, c_tf_idf: Any, topics: Topics,
                       embeddings: Any = None) -> dict[int, list[tuple[str, float]]]:
        used, words, row_of, rows = (self.word_use or _use_by_theme)(topic_model, documents)
        column = {str(w): j for j, w in enumerate(words)}
        out: dict[int, list[tuple[str, float]]] = {}
        for label, values in topics.items():
            candidates = [(w, float(score)) for w, score in values if w in column]
            if len(candidates) <= 2 or int(label) not in row_of:
                out[label] = candidates[: self.top_n_words] or list(_EMPTY)
                continue
            segments = used[rows == row_of[int(label)]][:, [column[w] for w, _ in candidates]]
            both = (segments.T @ segments).toarray().astype(float)
            alone = np.diag(both)
            with np.errstate(divide="ignore", invalid="ignore"):
                together = np.nan_to_num(both / (alone[:, None] + alone[None, :] - both))
            scores = np.array([score for _, score in candidates])
            relevance = scores / scores.max() if scores.max() > 0 else np.ones(len(scores))
            chosen = [int(np.argmax(relevance))]
            while len(chosen) < min(self.top_n_words, len(candidates)):
                gain = relevance + self.weight * together[:, chosen].mean(axis=1)
                if self.require_co_use:
                    gain[together[:, chosen].max(axis=1) <= 0] = -np.inf
                gain[chosen] = -np.inf
                if not np.isfinite(gain).any():
                    break
                chosen.append(int(np.argmax(gain)))
            out[label] = [candidates[i] for i in chosen]
        return out


class ShortListMMR(MaximalMarginalRelevance):
    """BERTopic's ``MaximalMarginalRelevance`` for themes that may have fewer candidates than keywords.

    The original assumes at least ``top_n_words`` candidates (BERTopic pads with empty words);
    a theme whose segments share fewer words keeps the ones it has.
    """

    def extract_topics(self, topic_model: Any, documents: pd.DataFrame, c_tf_idf: Any, topics: Topics,
                       embeddings: Any = None) -> dict[int, list[tuple[str, float]]]:
        short = {label: list(values) for label, values in topics.items() if len(values) <= self.top_n_words}
        long = {label: values for label, values in topics.items() if label not in short}
        chosen = super().extract_topics(topic_model, documents, c_tf_idf, long) if long else {}
        return {label: short[label] if label in short else chosen[label] for label in topics}


_TAGGERS: dict[str, Any] = {}


def _tagger(model: str) -> Any:
    """The spaCy pipeline, tagger only (loaded once per process)."""
    if model not in _TAGGERS:
        import spacy

        try:
            _TAGGERS[model] = spacy.load(model, exclude=["parser", "ner", "lemmatizer", "senter"])
        except OSError as err:
            raise InputError(f"cannot load spaCy pipeline {model!r} for the part-of-speech filter: is it installed? "
                             f'(pip install "psythemes[sentence-model]"; {err})') from None
    return _TAGGERS[model]
