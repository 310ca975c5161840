"""The default preset's HDBSCAN clusters again when one cluster swallows the corpus."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hdbscan import HDBSCAN

from psythemes.errors import PsythemesWarning
from psythemes.schema import SEGMENT_COLUMNS
from psythemes.themes.clustering import HDBSCANWithFallback
from psythemes.themes.presets import DOMINANT_SHARE, dominant_share


def blobs(separation: float, seed: int = 0) -> np.ndarray:
    """Four blobs of 80 points and, far away, one of 60."""
    rng = np.random.default_rng(seed)
    corners = ([0, 0], [separation, 0], [0, separation], [separation, separation])
    return np.vstack([rng.normal(c, 0.25, size=(80, 2)) for c in corners] + [rng.normal([8, 8], 0.25, size=(60, 2))])


def test_dominant_share_counts_outliers_as_no_cluster():
    assert dominant_share(np.array([0, 0, 0, 1, -1, -1])) == pytest.approx(0.5)
    assert dominant_share(np.array([-1, -1])) == 0.0


def test_corpus_without_a_dominant_cluster_is_clustered_as_by_hdbscan():
    X = blobs(1.5)
    plain = HDBSCAN(min_cluster_size=10).fit(X)
    ours = HDBSCANWithFallback(min_cluster_size=10).fit(X)
    assert dominant_share(plain.labels_) <= DOMINANT_SHARE
    assert ours.fallback_ is None
    np.testing.assert_array_equal(ours.labels_, plain.labels_)


def test_dominant_cluster_triggers_a_second_clustering_with_smaller_min_samples():
    X = blobs(1.0)
    assert dominant_share(HDBSCAN(min_cluster_size=30).fit(X).labels_) > DOMINANT_SHARE
    ours = HDBSCANWithFallback(min_cluster_size=30).fit(X)
    assert ours.fallback_["min_samples"] == 10 == ours.min_samples
    assert ours.fallback_["largest_share_before"] > DOMINANT_SHARE
    second = HDBSCAN(min_cluster_size=30, min_samples=10).fit(X)
    np.testing.assert_array_equal(ours.labels_, second.labels_)
    assert ours.fallback_["largest_share_after"] == pytest.approx(dominant_share(second.labels_), abs=1e-4)


def test_discoverer_says_when_it_clustered_again():
    from sklearn.decomposition import PCA

    from psythemes.discover import ThemeDiscoverer

    X = blobs(1.0).astype(np.float32)
    words = ["sleep insomnia nights", "work manager deadline", "dog river walk", "pain chest breathing", "family kids"]
    blob = np.repeat(np.arange(5), [80, 80, 80, 80, 60])
    rows = []
    for k, b in enumerate(blob):
        text = f"{words[b]} and {words[b].split()[0]} again"
        rows.append({"doc_id": f"D{k % 6}", "segment_id": f"D{k % 6}:{k}", "speaker": "P", "role": "participant",
                     "start": 100 * k, "end": 100 * k + len(text), "text": text, "t_start": np.nan, "t_end": np.nan})
    seg = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    disc = ThemeDiscoverer(umap_model=PCA(n_components=2), hdbscan_model=HDBSCANWithFallback(min_cluster_size=30),
                           representation=None, random_state=0)
    with pytest.warns(PsythemesWarning, match="clustered again with min_samples=10"):
        disc.fit(seg, X)
    assert disc.summary()["clustering_fallback"]["min_samples"] == 10


def test_psythemes_warnings_stay_audible_after_bertopic_is_imported():
    """BERTopic's import ignores every UserWarning process-wide; psythemes undoes that."""
    import subprocess
    import sys

    code = ("import warnings\n"
            "from psythemes.errors import PsythemesWarning\n"
            "from psythemes.themes import keywords  # imports bertopic\n"
            "import bertopic\n"
            "warnings.warn('still heard', PsythemesWarning)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "still heard" in done.stderr
