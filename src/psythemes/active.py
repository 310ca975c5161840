"""Active learning: which segments should the researcher code next?

``psythemes next RUN_DIR --n 50 --out to_code.xlsx`` reads the codes decided so far
(review sheets, gold CSV, ``.qdpx``), fits a simple classifier on the embeddings of the
labelled segments and picks the unlabelled segments whose codes would teach the few-shot
mapper most:

* **uncertainty**: segments the classifier is least sure about (smallest margin between
  its two most likely answers; for a multi-label codebook, "code" against "no code" for the
  code it is least sure of);
* **balance over codes**: the shortlist of the ``pool_factor * n`` most uncertain segments
  takes an equal share from every code the classifier predicts, so rare codes are asked
  about too;
* **diversity**: the shortlist is clustered into ``n`` groups (k-means, weighted by
  uncertainty) and the segment nearest each group's centre is chosen, so a batch does not
  hold ten near-copies of one sentence and no outlier is picked for being odd;
* **balance over transcripts**: at most ``max_per_doc`` segments come from one transcript.

With no labels yet (or only one code among them) there is nothing to be uncertain about:
the batch is then the segments nearest the centres of ``n`` k-means clusters of all
unlabelled segments (a representative sample), balanced over transcripts.  :class:`ActiveSampler` is the
estimator (in memory); ``psythemes next`` is :func:`psythemes.jobs.next_batch`, which reads the run
folder and the gold files and writes the review sheet.  ``benchmarks/active_learning.py`` simulates
the loop on AnnoMI and ESConv.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._moved import forward

__all__ = ["ActiveSampler"]

#: Label of segments with no code, for balancing and single-label classifiers.
NO_CODE = "(no code)"


class ActiveSampler:
    """Choose the next segments to label (uncertainty + diversity, balanced over codes and transcripts).

    Parameters
    ----------
    n : int
        Segments per batch.
    pool_factor : int
        The shortlist holds the ``pool_factor * n`` most uncertain segments.
    max_per_doc : int, optional
        At most this many segments from one transcript; default ``ceil(2 n / transcripts)``
        (at least 1).
    C : float
        Inverse regularisation of the logistic-regression classifier.
    random_state : int
        Seed (tie breaking, the cold-start pick).

    Attributes
    ----------
    classifier_ : object or None
        The fitted classifier (``None`` at a cold start).
    uncertainty_ : ndarray
        Uncertainty of every candidate of the last :meth:`select` (0..1).
    predicted_ : list of str
        Predicted code of every candidate of the last :meth:`select`.
    """

    def __init__(self, n: int = 50, *, pool_factor: int = 10, max_per_doc: int | None = None,
                 C: float = 1.0, random_state: int = 0):
        self.n = n
        self.pool_factor = pool_factor
        self.max_per_doc = max_per_doc
        self.C = C
        self.random_state = random_state

    # -- classifier ------------------------------------------------------------------------
    def _fit_predict(self, X_lab: np.ndarray, y_lab: Sequence[Any], X_pool: np.ndarray,
                     multilabel: bool) -> tuple[np.ndarray, list[str]] | None:
        """Uncertainty (0..1) and predicted code of each pool segment, or None at a cold start."""
        from sklearn.linear_model import LogisticRegression

        if multilabel:
            sets = [set(v) for v in y_lab]
            codes = sorted(set().union(*sets)) if sets else []
            margins, probs = [], []
            models = {}
            for code in codes:
                target = np.array([code in s for s in sets])
                if target.all() or not target.any():
                    continue
                model = LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000)
                model.fit(X_lab, target)
                p = model.predict_proba(X_pool)[:, 1]
                models[code] = model
                margins.append(np.abs(2 * p - 1))
                probs.append(p)
            if not models:
                return None
            self.classifier_ = models
            margin = np.min(np.vstack(margins), axis=0)
            stacked = np.vstack(probs)
            names = list(models)
            predicted = [names[int(j)] if stacked[j, i] >= 0.5 else NO_CODE
                         for i, j in enumerate(np.argmax(stacked, axis=0))]
            return 1.0 - margin, predicted
        labels = [NO_CODE if v is None else str(v) for v in y_lab]
        if len(set(labels)) < 2:
            return None
        model = LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000)
        model.fit(X_lab, labels)
        self.classifier_ = model
        proba = model.predict_proba(X_pool)
        top2 = np.sort(proba, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        predicted = [str(c) for c in model.classes_[np.argmax(proba, axis=1)]]
        return 1.0 - margin, predicted

    # -- selection -------------------------------------------------------------------------
    def select(self, X: np.ndarray, labelled: Sequence[int] | np.ndarray, y: Sequence[Any], docs: Sequence[Any], *,
               candidates: Sequence[int] | None = None, prior_codes: Sequence[str] | None = None,
               multilabel: bool = False) -> np.ndarray:
        """Indices (into ``X``) of the next ``n`` segments to label.

        Parameters
        ----------
        X : ndarray (n_segments, dim)
            Unit-length segment embeddings.
        labelled : sequence of int or ndarray
            Rows of ``X`` already labelled.
        y : sequence
            Their labels, same order: one code (or ``None``) each, or with ``multilabel``
            a list of codes each.
        docs : sequence
            Transcript of every row of ``X``.
        candidates : sequence of int, optional
            Rows that may be chosen (default: every unlabelled row).
        prior_codes : sequence of str, optional
            A code per row of ``X`` used for balancing at a cold start (e.g. the zero-shot code).
        multilabel : bool
            ``y`` holds lists of codes.
        """
        rng = np.random.default_rng(self.random_state)
        X = np.asarray(X, dtype=np.float32)
        docs = np.asarray([str(d) for d in docs])
        labelled = np.asarray(list(labelled), dtype=int)
        if candidates is None:
            mask = np.ones(len(X), dtype=bool)
            mask[labelled] = False
            pool = np.flatnonzero(mask)
        else:
            pool = np.setdiff1d(np.asarray(list(candidates), dtype=int), labelled)
        if len(pool) == 0:
            return np.array([], dtype=int)
        n = min(self.n, len(pool))
        self.classifier_ = None
        fitted = self._fit_predict(X[labelled], list(y), X[pool], multilabel) if len(labelled) else None
        if fitted is None:  # cold start: a representative sample
            uncertainty = np.ones(len(pool))
            predicted = [str(prior_codes[i]) if prior_codes is not None else NO_CODE for i in pool]
            shortlist = np.arange(len(pool))
        else:
            uncertainty, predicted = fitted
            # capped: clustering a shortlist of tens of thousands costs more than it gains
            size = min(len(pool), max(n, min(self.pool_factor * n, n + 4000)))
            shortlist = _balanced_shortlist(uncertainty, predicted, size, rng)
        self.uncertainty_, self.predicted_ = uncertainty, predicted
        n_docs = len(set(docs[pool]))
        cap = self.max_per_doc or max(1, math.ceil(2 * n / max(n_docs, 1)))
        chosen = _cluster_pick(X[pool[shortlist]], uncertainty[shortlist], docs[pool[shortlist]], n, cap,
                               self.random_state)
        return pool[shortlist[chosen]]


def _balanced_shortlist(uncertainty: np.ndarray, predicted: Sequence[str], k: int,
                        rng: np.random.Generator) -> np.ndarray:
    """The ``k`` most uncertain, an equal share per predicted code (unused shares go to the rest)."""
    jitter = uncertainty + 1e-9 * rng.random(len(uncertainty))  # ties broken at random, reproducibly
    predicted = np.asarray(predicted)
    codes = sorted(set(predicted))
    share = max(1, k // len(codes))
    picked: list[int] = []
    for code in codes:
        members = np.flatnonzero(predicted == code)
        picked.extend(members[np.argsort(-jitter[members], kind="stable")][:share].tolist())
    if len(picked) < k:
        rest = np.setdiff1d(np.argsort(-jitter, kind="stable"), picked, assume_unique=False)
        rest = rest[np.argsort(-jitter[rest], kind="stable")]
        picked.extend(rest[: k - len(picked)].tolist())
    return np.asarray(picked[:k], dtype=int)


def _cluster_pick(X: np.ndarray, weight: np.ndarray, docs: np.ndarray, n: int, cap: int, seed: int) -> np.ndarray:
    """One segment per k-means cluster: the one nearest its centre whose transcript is under ``cap``."""
    from sklearn.cluster import KMeans

    if len(X) <= n:
        return np.arange(len(X))
    km = KMeans(n_clusters=n, n_init=1, max_iter=50, random_state=seed).fit(X, sample_weight=np.maximum(weight, 1e-6))
    dist = km.transform(X)
    per_doc: dict[str, int] = {}
    chosen: list[int] = []
    leftovers: list[int] = []
    for c in range(n):
        members = np.flatnonzero(km.labels_ == c)
        members = members[np.argsort(dist[members, c], kind="stable")]
        pick = next((int(i) for i in members if per_doc.get(docs[i], 0) < cap), None)
        if pick is None:
            leftovers.extend(int(i) for i in members[:1])
            continue
        chosen.append(pick)
        per_doc[docs[pick]] = per_doc.get(docs[pick], 0) + 1
    # clusters whose members all sit in full transcripts: fill from the rest, fewest-used transcripts first
    if len(chosen) < n:
        rest = [i for i in np.argsort(-weight, kind="stable") if i not in set(chosen)]
        rest.sort(key=lambda i: per_doc.get(docs[i], 0))
        chosen.extend(int(i) for i in rest[: n - len(chosen)])
    return np.asarray(chosen, dtype=int)


# Moved to the file-level jobs; still importable from here.
__getattr__ = forward(__name__, {
    "next_batch": "jobs",
    "labelled_segments": "jobs",
})
