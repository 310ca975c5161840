"""Stability of candidate themes: does a theme come back when the discovery is run again?

BERTopic's themes change with the random seed and with tiny differences in the embeddings.
:func:`theme_stability` measures, for each theme of one run (the *reference*), how well it
reappears in other runs: the **best-match Jaccard** of its segment set with the themes of each
other run, averaged over the runs (Hennig 2007, ``clusterboot``).  A theme whose mean is below
:data:`STABLE_JACCARD` (0.5: on average less than half of its segments are shared with its best
counterpart) is flagged unstable.

Runs may cover only part of the segments (a resample of the transcripts): a theme's set is
then compared on the segments that run saw.  Outliers (``-1``) are not a theme and belong to
no set.

:func:`central_run` picks the run with the highest mean similarity to the other runs: the one
to report, so that stable themes are the same on another machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["STABLE_JACCARD", "best_match_jaccard", "run_similarity", "central_run", "theme_stability", "OUTLIER"]

#: themes with a mean best-match Jaccard below this are flagged unstable
STABLE_JACCARD = 0.5
OUTLIER = -1


def _sets(labels: np.ndarray, covered: np.ndarray) -> dict[int, np.ndarray]:
    """Boolean membership mask of each theme (outliers and unseen segments excluded)."""
    return {int(t): (labels == t) & covered for t in np.unique(labels[covered]) if t != OUTLIER}


def _covered(labels: np.ndarray) -> np.ndarray:
    return np.ones(len(labels), dtype=bool)


def best_match_jaccard(
    reference: Sequence[int] | np.ndarray,
    other: Sequence[int] | np.ndarray,
    *,
    other_covered: Sequence[bool] | np.ndarray | None = None,
) -> dict[int, float]:
    """For each theme of ``reference``, its highest Jaccard index with a theme of ``other``.

    Parameters
    ----------
    reference, other : array of int
        Theme id of each segment (same segments, same order); ``-1`` = outlier.
    other_covered : array of bool, optional
        Which segments ``other`` was fitted on (default: all).  A reference theme is compared
        on those segments only; a theme with none of them gets NaN.

    Returns
    -------
    dict of int to float
        ``{theme id: best-match Jaccard}`` (0 when the theme's segments are all outliers in
        ``other``).
    """
    ref = np.asarray(reference)
    oth = np.asarray(other)
    if ref.shape != oth.shape:
        raise ValueError(f"partitions of different length: {ref.shape[0]} and {oth.shape[0]}")
    covered = _covered(oth) if other_covered is None else np.asarray(other_covered, dtype=bool)
    targets = list(_sets(oth, covered).values())
    out: dict[int, float] = {}
    for t in sorted(int(x) for x in np.unique(ref) if x != OUTLIER):
        mask = (ref == t) & covered
        n = int(mask.sum())
        if n == 0:
            out[t] = float("nan")
            continue
        best = 0.0
        for target in targets:
            inter = int(np.count_nonzero(mask & target))
            if inter:
                best = max(best, inter / int(np.count_nonzero(mask | target)))
        out[t] = best
    return out


def run_similarity(
    a: np.ndarray, b: np.ndarray, *, a_covered: np.ndarray | None = None, b_covered: np.ndarray | None = None
) -> float:
    """Symmetric agreement of two runs: mean of both directions' mean best-match Jaccard.

    Each run is compared on the segments the other one saw.  NaN when neither run has a theme.
    """
    a, b = np.asarray(a), np.asarray(b)
    ca = _covered(a) if a_covered is None else np.asarray(a_covered, dtype=bool)
    cb = _covered(b) if b_covered is None else np.asarray(b_covered, dtype=bool)
    both = ca & cb
    directions = []
    for x, y in ((a, b), (b, a)):
        scores = [v for v in best_match_jaccard(np.where(both, x, OUTLIER), y, other_covered=both).values()
                  if not np.isnan(v)]
        if scores:
            directions.append(float(np.mean(scores)))
    return float(np.mean(directions)) if directions else float("nan")


def central_run(runs: Sequence[np.ndarray], covered: Sequence[np.ndarray | None] | None = None,
                candidates: Sequence[int] | None = None) -> tuple[int, np.ndarray]:
    """The run most similar to all others (highest mean :func:`run_similarity`).

    Parameters
    ----------
    runs : sequence of array of int
        Theme ids per segment, one array per run.
    covered : sequence of bool arrays or None, optional
        Segments each run was fitted on (None = all).
    candidates : sequence of int, optional
        Indices of the runs that may be chosen (e.g. only full-data runs); default all.

    Returns
    -------
    index : int
        Position of the central run in ``runs`` (ties: the first).
    similarity : numpy.ndarray
        The runs x runs similarity matrix (diagonal 1).
    """
    n = len(runs)
    covered = list(covered) if covered is not None else [None] * n
    sim = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            sim[i, j] = sim[j, i] = run_similarity(runs[i], runs[j], a_covered=covered[i], b_covered=covered[j])
    candidates = list(range(n)) if candidates is None else list(candidates)
    if n == 1:
        return candidates[0], sim
    means = [np.nanmean(np.delete(sim[i], i)) if np.isfinite(np.delete(sim[i], i)).any() else -np.inf
             for i in candidates]
    return candidates[int(np.argmax(means))], sim


def theme_stability(
    reference: np.ndarray, others: Sequence[np.ndarray], covered: Sequence[np.ndarray | None] | None = None
) -> dict[int, float]:
    """Per theme of ``reference``: mean best-match Jaccard over the ``others`` runs.

    Runs in which the theme has no segment to compare (a resample without its transcripts)
    do not count; a theme with no comparable run gets NaN.
    """
    covered = list(covered) if covered is not None else [None] * len(others)
    per_theme: dict[int, list[float]] = {int(t): [] for t in np.unique(reference) if t != OUTLIER}
    for other, cov in zip(others, covered, strict=True):
        for t, value in best_match_jaccard(reference, other, other_covered=cov).items():
            if not np.isnan(value):
                per_theme[t].append(value)
    return {t: (float(np.mean(v)) if v else float("nan")) for t, v in per_theme.items()}
