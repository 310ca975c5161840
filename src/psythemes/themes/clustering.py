"""HDBSCAN that does not let one cluster swallow the corpus (the ``default`` preset's clusterer).

This module imports ``hdbscan``; :mod:`psythemes.themes.presets` imports it only when a theme
model is built.
"""

from __future__ import annotations

from typing import Any

from hdbscan import HDBSCAN

from .presets import DOMINANT_SHARE, dominant_share

__all__ = ["HDBSCANAlwaysFiner", "HDBSCANWithFallback", "always_finer"]


class HDBSCANWithFallback(HDBSCAN):
    """HDBSCAN that clusters again with ``min_samples = max(1, min_cluster_size // 3)`` when one
    cluster holds more than :data:`~psythemes.themes.presets.DOMINANT_SHARE` of the points.

    HDBSCAN's ``min_samples`` (by default ``min_cluster_size``) smooths the density estimate.  On
    short, similar turns (ESConv's support chats: 98 % of 2,438 turns in one cluster) the
    smoothing leaves one dense blob; a smaller ``min_samples`` lets it split (docs/themes.md,
    *Measured: theme quality*).  Corpora where no cluster dominates are clustered exactly as
    by ``HDBSCAN``.  Being an ``hdbscan.HDBSCAN``, BERTopic uses its probabilities and
    prediction data as usual.

    Attributes
    ----------
    fallback_ : dict or None
        ``{"largest_share_before", "min_samples", "largest_share_after"}`` when the fit
        clustered again, None when the first clustering was kept.
    """

    def fit(self, X: Any, y: Any = None) -> HDBSCANWithFallback:
        super().fit(X, y)
        self.fallback_: dict[str, Any] | None = None
        first = dominant_share(self.labels_)
        if self.min_samples is None and self._clusters_again(first):
            smaller = self._fallback_min_samples()
            self.set_params(min_samples=smaller)
            super().fit(X, y)
            self.fallback_ = {"largest_share_before": round(first, 4), "min_samples": smaller,
                              "largest_share_after": round(dominant_share(self.labels_), 4)}
        return self

    def _clusters_again(self, largest_share: float) -> bool:
        """Whether to cluster again, given the largest cluster's share of the points."""
        return largest_share > DOMINANT_SHARE

    def _fallback_min_samples(self) -> int:
        """``min_samples`` of the second clustering (benchmarks/experiments vary it by overriding this)."""
        return max(1, self.min_cluster_size // 3)


class HDBSCANAlwaysFiner(HDBSCANWithFallback):
    """:class:`HDBSCANWithFallback` that always clusters the second, finer way.

    A stability check compares runs with different seeds; on a corpus near the edge, one cluster
    swallows the corpus for some seeds and not others, and runs clustered the two ways share few
    themes (ESConv, docs/themes.md, *Measured: theme quality*).  Once one seeded run falls back,
    :class:`~psythemes.themes.discoverer.ThemeDiscoverer` clusters every run with this class.
    ``fallback_`` is always set; its ``largest_share_before`` may be under the threshold.
    """

    def _clusters_again(self, largest_share: float) -> bool:
        return True


def always_finer(clusterer: HDBSCANWithFallback) -> HDBSCANWithFallback:
    """An unfitted copy of ``clusterer`` (same parameters) that always clusters the second way.

    A subclass of :class:`HDBSCANWithFallback` (e.g. an experiment's other second clustering)
    keeps its own methods: the copy is of a subclass of its class.
    """
    cls = type(clusterer)
    if cls in (HDBSCANWithFallback, HDBSCANAlwaysFiner):
        return HDBSCANAlwaysFiner(**clusterer.get_params())
    finer = type(f"{cls.__name__}AlwaysFiner", (cls,), {"_clusters_again": HDBSCANAlwaysFiner._clusters_again})
    return finer(**clusterer.get_params())
