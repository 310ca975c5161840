"""Calibrate a zero-shot mapper on the unlabelled corpus: codes that carry only a name and a definition.

A researcher's codebook usually has no examples, so there is nothing to set a similarity threshold
on: MiniLM cosines between a segment and a one-sentence definition sit around 0.1-0.4 whatever the
code, and a fixed threshold either codes nothing or everything.  Two label-free steps replace it:

1. **Relative to the corpus.**  Each code's scores are standardised over the corpus being coded
   (``z = (score - median) / sd``): a definition that is close to *every* segment (a general one)
   no longer wins everywhere, and "high for this code" means high compared with this corpus.
2. **Transductive self-training.**  The segments whose best code leads the runner-up by the widest
   margin become pseudo-examples of that code (10 % of each code's segments in the first round, up
   to 50 % in the last); segments not above the corpus median for any code become pseudo-examples of
   "no code".  A logistic regression over the embedding and a few surface cues (question marks,
   length, pronouns) learns from them, relabels the corpus, and the next round takes its most
   confident segments.  The classifier picks up regularities of the corpus that the definition
   implies but the embedding misses (a code about asking gets the segments ending in "?").

No gold label is used anywhere.  The settings (rounds, 10 % -> 50 %, C) were chosen on a development
split of AnnoMI (docs/mapping.md, "Zero-shot without examples").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["NO_CODE", "SelfTrainedModel", "corpus_location_scale", "self_train"]

#: Class of the self-trained model for "no code".
NO_CODE = "__none__"
_MIN_SEEDS = 3
_EXACT_FIT_CLASSES = 20


@dataclass(frozen=True)
class SelfTrainedModel:
    """A multinomial logistic regression learned from pseudo-labels (see :func:`self_train`).

    Attributes
    ----------
    classes : tuple of str
        Codes it can assign, plus :data:`NO_CODE` when it learned a "no code" class.
    coef, intercept : ndarray
        Weights over the standardised features (embedding, then :func:`psythemes.mapping.surface_features`).
    mean, scale : ndarray
        Feature standardisation.
    n_pseudo : dict
        Pseudo-examples per class in the last round.
    """

    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    n_pseudo: dict

    def proba(self, emb: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, one row per segment, columns in :attr:`classes` order."""
        z = (_features(emb, texts) - self.mean) / self.scale @ self.coef.T + self.intercept
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def _features(emb: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    from .mapping import surface_features

    return np.hstack([emb, surface_features(list(texts))]).astype(np.float64)


def corpus_location_scale(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per code (column): the median score over the corpus and the standard deviation (floored)."""
    location = np.median(scores, axis=0)
    scale = np.maximum(scores.std(axis=0), 1e-6)
    return location, scale


def _seeds(pred: np.ndarray, conf: np.ndarray, n_classes: int, share: float) -> np.ndarray:
    rows = []
    for j in range(n_classes):
        members = np.flatnonzero(pred == j)
        k = max(_MIN_SEEDS, int(share * len(members)))
        rows.append(members[np.argsort(-conf[members], kind="stable")[:k]])
    return np.concatenate(rows) if rows else np.zeros(0, dtype=int)


def self_train(
    scores: np.ndarray,
    emb: np.ndarray,
    texts: Sequence[str],
    codes: Sequence[str],
    *,
    rounds: int = 4,
    start: float = 0.1,
    end: float = 0.5,
    no_code: bool = True,
    C: float = 0.1,
    random_state: int | None = 0,
) -> SelfTrainedModel | None:
    """Learn a classifier from the corpus' own confident segments (no labels).

    Parameters
    ----------
    scores : ndarray (n_segments, n_codes)
        Prototype scores of the unlabelled corpus.
    emb : ndarray (n_segments, d)
        Their embeddings.
    texts : sequence of str
    codes : sequence of str
        Column names of ``scores``.
    rounds : int
        Rounds of pseudo-labelling and refitting.
    start, end : float
        Share of each class's segments taken as pseudo-examples in the first and the last round.
    no_code : bool
        Also learn a "no code" class from segments not above the corpus median for any code.
    C : float
        Inverse regularisation of the logistic regression.
    random_state : int, optional

    Returns
    -------
    SelfTrainedModel or None
        None when the corpus is too small to seed two classes.
    """
    from sklearn.linear_model import LogisticRegression

    location, scale = corpus_location_scale(scores)
    z = (scores - location) / scale
    names = list(codes) + ([NO_CODE] if no_code else [])
    pred = z.argmax(axis=1)
    top2 = np.sort(z, axis=1)[:, -2:] if z.shape[1] > 1 else np.hstack([z, z])
    conf = top2[:, 1] - top2[:, 0]
    if no_code:
        # not above the corpus median for any code: the segment is about none of them
        low = z.max(axis=1) <= 0
        pred = np.where(low, len(codes), pred)
        conf = np.where(low, -z.max(axis=1), conf)
    X = _features(emb, texts)
    mean = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd < 1e-6] = 1.0
    Xs = (X - mean) / sd
    clf = None
    used = np.zeros(0, dtype=int)
    for r in range(max(int(rounds), 1)):
        share = start + (end - start) * r / max(int(rounds) - 1, 1)
        seeds = _seeds(pred, conf, len(names), share)
        used = pred[seeds]
        if len(set(used.tolist())) < 2:
            break
        # large codebooks: a looser tolerance (the fit's cost grows with the number of classes);
        # at most 20 classes keep sklearn's default, the setting the scoreboard figures use
        tol = 1e-4 if len(names) <= _EXACT_FIT_CLASSES else 1e-2
        clf = LogisticRegression(C=C, max_iter=3000, tol=tol, random_state=random_state).fit(Xs[seeds], used)
        proba = clf.predict_proba(Xs)
        pred = clf.classes_[proba.argmax(axis=1)]
        conf = proba.max(axis=1)
    if clf is None:
        return None
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # two classes: sklearn keeps one row; softmax of [-z/2, z/2] = sigmoid(z)
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    classes = tuple(names[int(c)] for c in clf.classes_)
    counts = {names[int(c)]: int((used == c).sum()) for c in clf.classes_}
    return SelfTrainedModel(classes=classes, coef=coef, intercept=intercept, mean=mean, scale=sd, n_pseudo=counts)
