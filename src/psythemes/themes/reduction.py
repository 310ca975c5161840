"""Several seeded UMAPs side by side: the ``default`` preset's dimension reduction.

UMAP's layout depends on its seed, and HDBSCAN then draws different cluster borders on each
layout: with one UMAP, a re-run with another seed brought back on average 0.76 of a theme's
segments on AnnoMI and 0.71 on ESConv (best-match Jaccard, docs/themes.md).  Stacking the
outputs of three UMAPs fitted with different seeds averages much of that noise out before
clustering (0.87 and 0.77; demo 0.89 -> 0.91), at about 2.3 times the cost of one UMAP
(``benchmarks/experiments/theme_reducer_variants.py``).

This module imports nothing heavy; UMAP comes in with the estimator it is given.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone

__all__ = ["KeptReduction", "StackedUMAP", "SEED_STRIDE"]

#: UMAP ``i`` of a run seeded ``s`` gets seed ``s + i * SEED_STRIDE``, so runs seeded 0, 1, 2, ...
#: (``ThemeDiscoverer(n_runs=...)``) never share a layout.
SEED_STRIDE = 1000


def _digest(X: Any) -> str:
    return hashlib.sha256(np.ascontiguousarray(X, dtype=np.float32).tobytes()).hexdigest()


class StackedUMAP(TransformerMixin, BaseEstimator):
    """Fit ``n_layouts`` copies of ``umap`` with different seeds; transform = their outputs side by side.

    Parameters
    ----------
    umap : estimator
        A seeded UMAP (any reducer with ``random_state``, ``fit_transform`` and ``transform``).
    n_layouts : int, default 3
        How many copies; 1 is the plain reducer.

    Attributes
    ----------
    reducers_ : list of estimator
        The fitted copies, seeds ``umap.random_state + i * SEED_STRIDE``.
    embedding_ : ndarray of shape (n_samples, n_layouts * n_components)
        The training data, reduced.
    """

    def __init__(self, umap: Any, n_layouts: int = 3):
        self.umap = umap
        self.n_layouts = n_layouts

    def fit(self, X: Any, y: Any = None) -> StackedUMAP:
        if not isinstance(self.n_layouts, (int, np.integer)) or self.n_layouts < 1:
            raise ValueError(f"n_layouts must be an integer >= 1, not {self.n_layouts!r}")
        seed = getattr(self.umap, "random_state", None) or 0
        self.reducers_ = [clone(self.umap).set_params(random_state=seed + i * SEED_STRIDE)
                          for i in range(self.n_layouts)]
        self.embedding_ = np.hstack([r.fit_transform(X) for r in self.reducers_])
        self._fitted_digest = _digest(X)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        return self.fit(X, y).embedding_

    def transform(self, X: Any) -> np.ndarray:
        # BERTopic transforms the training data right after fit; UMAP's transform would place
        # those points again (slow, and not where the fit put them)
        if getattr(self, "_fitted_digest", None) == _digest(X):
            return self.embedding_
        return np.hstack([r.transform(X) for r in self.reducers_])


class KeptReduction(TransformerMixin, BaseEstimator):
    """A reducer whose layout of the training rows is kept, or handed in from an earlier fit.

    The runs of a stability check (``ThemeDiscoverer(n_runs=...)``) are clustered again when one
    seed's run falls back to the finer clustering (``fallback``): the same reducer with the same
    seed on the same rows.  Handing the run's ``layout`` back in skips the reducer's fit (UMAP:
    most of a run's time) and gives the very same clusters.  Only the layout is kept between
    runs, not the fitted reducers (UMAP keeps its neighbour graph and its input: hundreds of MB
    for a few runs of 10,000 segments).

    Parameters
    ----------
    reducer : estimator
        The reducer.  With ``layout`` it is not fitted, so ``transform`` cannot be used.
    layout : ndarray, optional
        The reducer's output on these rows from an earlier fit with the same seed; None: fit ``reducer``.

    Attributes
    ----------
    layout_ : ndarray of shape (n_samples, n_components)
        The training rows, reduced.
    """

    def __init__(self, reducer: Any, layout: np.ndarray | None = None):
        self.reducer = reducer
        self.layout = layout

    def fit(self, X: Any, y: Any = None) -> KeptReduction:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        if self.layout is None:
            self.layout_ = np.asarray(self.reducer.fit_transform(X, y))
        elif len(self.layout) != len(X):
            raise ValueError(f"the kept layout has {len(self.layout)} rows, not {len(X)}")
        else:
            self.layout_ = self.layout
        return self.layout_

    def transform(self, X: Any) -> np.ndarray:
        return self.reducer.transform(X)
