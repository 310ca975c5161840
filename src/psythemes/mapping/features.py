"""Hand-built features of spoken turns for :class:`~psythemes.mapping.FewShotMapper`.

Surface cues of a turn (question marks, interrogative start, length, pronouns), its length bin,
where it sits in its document, and its previous / next turn (embedding, cosine, same speaker).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ._common import DOC, SEG, SPEAKER, START, encode, segment_texts

__all__ = [
    "LENGTH_BINS",
    "SENTENCE_ENDS",
    "SURFACE_NAMES",
    "length_bin_features",
    "neighbour_features",
    "neighbour_index",
    "position_features",
    "sentence_end_features",
    "sentence_ends",
    "surface_features",
]

_INTERROGATIVE = re.compile(
    r"^\s*(?:so\s+|and\s+|but\s+|okay,?\s+|well,?\s+)?"
    r"(?:what|why|how|when|where|who|whom|which|whose|do|does|did|is|are|was|were|can|could|would|will|"
    r"should|shall|have|has|had|may|might|am|aren't|isn't|don't|doesn't|didn't|won't|wouldn't|couldn't)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z']+")
_SECOND = {"you", "your", "you're", "yours", "yourself", "you've", "you'd", "you'll"}
_FIRST = {"i", "me", "my", "i'm", "i've", "i'd", "i'll", "mine", "myself"}
#: Columns of :func:`surface_features`.
SURFACE_NAMES = [
    "ends_question",
    "has_question",
    "n_question",
    "interrogative_start",
    "log_words",
    "second_person",
    "first_person",
    "exclamation",
]
#: Lower edges (in words) of the bins of :func:`length_bin_features`: 1 | 2-3 | 4-7 | 8-15 | 16-31 | 32+.
LENGTH_BINS = [2, 4, 8, 16, 32]


def surface_features(texts: Sequence[str]) -> np.ndarray:
    """A few surface cues of spoken turns (question marks, interrogative start, length, pronoun rates).

    Returns
    -------
    ndarray of shape (n_texts, 8)
        Columns: ends with "?", contains "?", number of "?" (capped at 3), starts with an
        interrogative word, log(1 + words), share of second-person and first-person words,
        contains "!".
    """
    out = np.zeros((len(texts), len(SURFACE_NAMES)), dtype=np.float32)
    for i, text in enumerate(texts):
        t = text.strip()
        words = [w.lower() for w in _WORD.findall(t)]
        n = max(len(words), 1)
        out[i] = (
            t.endswith("?"),
            "?" in t,
            min(t.count("?"), 3) / 3,
            bool(_INTERROGATIVE.match(t)),
            math.log1p(len(words)),
            sum(w in _SECOND for w in words) / n,
            sum(w in _FIRST for w in words) / n,
            "!" in t,
        )
    return out


def length_bin_features(texts: Sequence[str]) -> np.ndarray:
    """One-hot bin of each text's length in words (:data:`LENGTH_BINS`), shape (n_texts, 6)."""
    n_words = [len(t.split()) for t in texts]
    return np.eye(len(LENGTH_BINS) + 1, dtype=np.float32)[np.digitize(n_words, LENGTH_BINS)]


def neighbour_index(segments: pd.DataFrame, context: pd.DataFrame, step: int) -> np.ndarray:
    """For each row of ``segments``: the row of ``context`` holding the previous (``step=-1``) or next
    (``step=1``) segment of the same document in text order, or -1."""
    ctx = context.reset_index(drop=True)
    order = ctx.assign(_row=np.arange(len(ctx))).sort_values([DOC, START, "_row"], kind="stable")
    rows = order["_row"].to_numpy()
    docs = order[DOC].astype(str).to_numpy()
    seg_ids = ctx[SEG].to_numpy()
    neighbour = {}
    for i in range(len(rows)):
        j = i + step
        neighbour[seg_ids[rows[i]]] = rows[j] if 0 <= j < len(rows) and docs[j] == docs[i] else -1
    return np.array([neighbour.get(s, -1) for s in segments[SEG].tolist()], dtype=int)


def neighbour_features(segments: pd.DataFrame, context: pd.DataFrame, emb: np.ndarray, embedder: Any, step: int, *,
                       surface: bool = False) -> list[np.ndarray]:
    """Blocks describing each segment's previous (``step=-1``) or next (``step=1``) turn in ``context``.

    Parameters
    ----------
    segments, context : DataFrame
        The segments, and the table their neighbours are looked up in.
    emb : ndarray
        Embeddings of ``segments`` (rows of length 1).
    embedder : object
        Embeds the neighbours' texts.
    step : {-1, 1}
    surface : bool
        Add :func:`surface_features` of the neighbour.

    Returns
    -------
    list of ndarray
        The neighbour's embedding, its cosine to the segment, whether the speaker is the same,
        whether there is a neighbour at all (then its surface features); zeros without one.
    """
    texts = segment_texts(context)
    spk = segments[SPEAKER].fillna("").astype(str).to_numpy() if SPEAKER in segments.columns else None
    cspk = context[SPEAKER].fillna("").astype(str).to_numpy() if SPEAKER in context.columns else None
    nb = neighbour_index(segments, context, step)
    have = nb >= 0
    nb_emb = np.zeros_like(emb)
    if have.any():
        nb_emb[have] = encode(embedder, [texts[k] for k in nb[have]])
    same = np.zeros((len(segments), 1), dtype=np.float32)
    if spk is not None and cspk is not None:
        same[have, 0] = [spk[i] == cspk[nb[i]] for i in np.flatnonzero(have)]
    # cosine to the neighbour: a reflection restates the turn before it
    cos = (emb * nb_emb).sum(axis=1, keepdims=True)
    blocks = [nb_emb, cos, same, have[:, None].astype(np.float32)]
    if surface:
        nb_surf = np.zeros((len(segments), len(SURFACE_NAMES)), dtype=np.float32)
        if have.any():
            nb_surf[have] = surface_features([texts[k] for k in nb[have]])
        blocks.append(nb_surf)
    return blocks


def position_features(segments: pd.DataFrame, context: pd.DataFrame) -> np.ndarray:
    """Where each segment sits in its document (rows of ``segments``, positions from ``context``).

    Columns: relative position (0 = first turn, 1 = last), its square, log(1 + turn index),
    log(1 + turns in the document), whether the previous turn has the same speaker, and a
    one-hot decile of the relative position.  Segments missing from ``context`` get zeros.
    """
    ctx = context.reset_index(drop=True)
    order = ctx.assign(_row=np.arange(len(ctx))).sort_values([DOC, START, "_row"], kind="stable")
    docs = order[DOC].astype(str).to_numpy()
    seg_ids = ctx[SEG].to_numpy()[order["_row"].to_numpy()]
    speakers = (order[SPEAKER].fillna("").astype(str).to_numpy() if SPEAKER in order.columns
                else np.full(len(order), "", dtype=object))
    first = np.r_[True, docs[1:] != docs[:-1]] if len(docs) else np.zeros(0, dtype=bool)
    start = np.maximum.accumulate(np.where(first, np.arange(len(docs)), 0)) if len(docs) else np.zeros(0, dtype=int)
    index = np.arange(len(docs)) - start
    n_turns = pd.Series(docs).map(pd.Series(docs).value_counts()).to_numpy()
    rel = index / np.maximum(n_turns - 1, 1)
    same = np.r_[False, (speakers[1:] == speakers[:-1]) & ~first[1:]] if len(docs) else np.zeros(0, dtype=bool)
    deciles = np.eye(10, dtype=np.float32)[np.minimum((rel * 10).astype(int), 9)]
    table = np.column_stack([rel, rel**2, np.log1p(index), np.log1p(n_turns), same, deciles]).astype(np.float32)
    where = {s: i for i, s in enumerate(seg_ids)}
    out = np.zeros((len(segments), table.shape[1]), dtype=np.float32)
    for i, s in enumerate(segments[SEG].tolist()):
        if s in where:
            out[i] = table[where[s]]
    return out


#: Values of ``FewShotMapper(sentence_ends=...)``: which sentences of a turn get features of their own.
SENTENCE_ENDS = ("last", "both", "none")


@lru_cache(maxsize=1)
def _sentencizer() -> Any:
    import spacy

    # language-neutral tokenizer + spaCy's rule-based sentencizer (split after . ? ! and the like)
    nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    return nlp


def sentence_ends(texts: Sequence[str]) -> tuple[list[str], list[str], np.ndarray]:
    """First and last sentence of each text, and its number of sentences.

    A one-sentence text is its own first and last sentence.  Sentences are split with spaCy's
    rule-based ``sentencizer`` (after ``.``, ``?``, ``!`` and the like), which needs no model.

    Returns
    -------
    (first, last, n_sentences)
    """
    first: list[str] = []
    last: list[str] = []
    counts = np.zeros(len(texts), dtype=np.int64)
    for i, doc in enumerate(_sentencizer().pipe([str(t) for t in texts], batch_size=256)):
        sents = [s.text.strip() for s in doc.sents if s.text.strip()] or [doc.text]
        first.append(sents[0])
        last.append(sents[-1])
        counts[i] = len(sents)
    return first, last, counts


def sentence_end_features(texts: Sequence[str], emb: np.ndarray, embedder: Any, which: str) -> list[np.ndarray]:
    """Blocks for the last (``which="last"``) or the first and last (``"both"``) sentence of each turn.

    In a long turn the last sentence often carries what the turn does (a summary that ends in a
    question; information that ends in an offer).  Per sentence: its embedding and
    :func:`surface_features`; then log(1 + number of sentences).  A one-sentence turn reuses its
    own embedding (``emb``), so only the sentences of longer turns are embedded.

    Parameters
    ----------
    texts : sequence of str
    emb : ndarray
        Embeddings of ``texts`` (rows of length 1).
    embedder : object
        Embeds the sentences of turns with more than one.
    which : {"last", "both"}

    Returns
    -------
    list of ndarray
    """
    first, last, counts = sentence_ends(texts)
    parts = [last] if which == "last" else [first, last]
    longer = np.flatnonzero(counts > 1)
    blocks: list[np.ndarray] = []
    for part in parts:
        vecs = emb.copy()
        if len(longer):
            vecs[longer] = encode(embedder, [part[i] for i in longer])
        blocks += [vecs, surface_features(part)]
    blocks.append(np.log1p(counts)[:, None].astype(np.float32))
    return blocks
