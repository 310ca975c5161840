"""Presets: ready-made BERTopic parts (dimension reduction, clustering) for :class:`ThemeDiscoverer`.

``default``
    Three seeded UMAPs (15 neighbours, 5 components, min_dist 0, cosine) side by side
    (:class:`~psythemes.themes.reduction.StackedUMAP`: themes come back more often when the
    discovery is re-run) + HDBSCAN (``min_cluster_size=min_topic_size``); segments that fit
    no cluster are outliers (theme -1).
    When one cluster takes more than half of the segments, HDBSCAN clusters again with a
    smaller ``min_samples`` (:class:`~psythemes.themes.clustering.HDBSCANWithFallback`):
    short, similar turns such as support chats otherwise give two themes, greetings and
    everything else.
``fast``
    PCA (up to 10 components, seeded) + k-means (``n_themes`` clusters, or about
    ``sqrt(n_segments) / 2``); no outliers.

Corpora under :data:`SMALL_CORPUS` segments fall back from ``default`` to ``fast`` with a
warning (UMAP/HDBSCAN need more points than that to find structure).  Timings of both presets
are in ``docs/performance.md`` (section *Themes*).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

__all__ = ["PRESETS", "SMALL_CORPUS", "DOMINANT_SHARE", "UMAP_LAYOUTS", "default_parts", "fast_parts", "dominant_share",
           "import_bertopic"]

#: below this many segments the ``default`` preset falls back to ``fast``
SMALL_CORPUS = 50
#: a cluster holding more than this share of the segments swallowed the corpus
DOMINANT_SHARE = 0.5
#: seeded UMAP layouts stacked by the ``default`` preset (1 = BERTopic's single UMAP)
UMAP_LAYOUTS = 3


def import_bertopic() -> Any:
    """``import bertopic`` without the warning filter that its import installs.

    BERTopic's import ignores every ``UserWarning`` for the whole process, which would silence
    psythemes' own warnings (:class:`~psythemes.errors.PsythemesWarning`) from then on.
    """
    import sys
    import warnings

    if "bertopic" not in sys.modules:
        with warnings.catch_warnings():  # restores the filters as they were before the import
            import bertopic  # noqa: F401
    return sys.modules["bertopic"]


def dominant_share(labels: Any) -> float:
    """Share of all points in the largest cluster (outliers, -1, are no cluster)."""
    import numpy as np

    labels = np.asarray(labels)
    _, counts = np.unique(labels[labels != -1], return_counts=True)
    return float(counts.max() / len(labels)) if len(counts) else 0.0


def default_parts(n_samples: int, n_features: int, *, min_topic_size: int, n_themes: int | None,
                  random_state: int) -> dict[str, Any]:
    """Stacked UMAPs + HDBSCAN (the ``default`` preset)."""
    from umap import UMAP

    from .clustering import HDBSCANWithFallback
    from .reduction import StackedUMAP

    return {
        # n_jobs=1: a seeded UMAP is single-threaded anyway (and says so in a warning otherwise)
        "umap_model": StackedUMAP(UMAP(
            n_neighbors=min(15, n_samples - 1), n_components=5, min_dist=0.0, metric="cosine",
            random_state=random_state, n_jobs=1, low_memory=False,
        ), n_layouts=UMAP_LAYOUTS),
        "hdbscan_model": HDBSCANWithFallback(min_cluster_size=min_topic_size, metric="euclidean",
                                             cluster_selection_method="eom", prediction_data=True),
        # BERTopic merges clusters down to n_themes (c-TF-IDF similarity) when it is given
        "nr_topics": n_themes,
    }


def fast_parts(n_samples: int, n_features: int, *, min_topic_size: int, n_themes: int | None,
               random_state: int) -> dict[str, Any]:
    """PCA + k-means (the ``fast`` preset)."""
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
PRESETS: dict[str, Callable[..., dict[str, Any]]] = {"default": default_parts, "fast": fast_parts}
