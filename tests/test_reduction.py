"""StackedUMAP: several seeded reducers side by side (the ``default`` preset's reduction)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA

from psythemes.themes import presets
from psythemes.themes.reduction import SEED_STRIDE, StackedUMAP


class _SeededProjection:
    """A random projection whose output depends only on its seed (stands in for UMAP)."""

    def __init__(self, n_components: int = 2, random_state: int | None = None):
        self.n_components, self.random_state = n_components, random_state

    def get_params(self, deep: bool = True) -> dict:
        return {"n_components": self.n_components, "random_state": self.random_state}

    def set_params(self, **params) -> _SeededProjection:
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit_transform(self, X, y=None):
        rng = np.random.default_rng(self.random_state)
        self.w_ = rng.normal(size=(X.shape[1], self.n_components))
        return X @ self.w_

    def transform(self, X):
        return X @ self.w_


def test_layouts_sit_side_by_side_with_their_own_seeds():
    X = np.random.default_rng(0).normal(size=(40, 6))
    stacked = StackedUMAP(_SeededProjection(2, random_state=7), n_layouts=3)
    out = stacked.fit_transform(X)
    assert out.shape == (40, 6)
    assert [r.random_state for r in stacked.reducers_] == [7, 7 + SEED_STRIDE, 7 + 2 * SEED_STRIDE]
    # each block is its own reducer's output, and the seeds give different layouts
    for i, r in enumerate(stacked.reducers_):
        np.testing.assert_allclose(out[:, 2 * i:2 * i + 2], X @ r.w_)
    assert not np.allclose(out[:, :2], out[:, 2:4])
    # the same seed gives the same stack
    np.testing.assert_allclose(clone(stacked).fit_transform(X), out)


def test_transform_returns_the_fitted_layout_for_training_data_and_projects_new_data():
    X = np.random.default_rng(1).normal(size=(30, 5))
    stacked = StackedUMAP(PCA(n_components=2, random_state=0), n_layouts=2).fit(X)
    assert stacked.transform(X) is stacked.embedding_
    new = np.random.default_rng(2).normal(size=(4, 5))
    assert stacked.transform(new).shape == (4, 4)


def test_one_layout_is_the_plain_reducer_and_bad_counts_are_refused():
    X = np.random.default_rng(3).normal(size=(20, 4))
    plain = PCA(n_components=2, random_state=0)
    np.testing.assert_allclose(StackedUMAP(plain, n_layouts=1).fit_transform(X), clone(plain).fit_transform(X))
    with pytest.raises(ValueError, match="n_layouts"):
        StackedUMAP(plain, n_layouts=0).fit(X)


def test_default_preset_stacks_three_seeded_umaps():
    parts = presets.default_parts(500, 384, min_topic_size=10, n_themes=None, random_state=4)
    reducer = parts["umap_model"]
    assert isinstance(reducer, StackedUMAP) and reducer.n_layouts == presets.UMAP_LAYOUTS == 3
    assert reducer.umap.random_state == 4 and reducer.umap.n_components == 5
