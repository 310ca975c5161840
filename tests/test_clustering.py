"""The default preset's HDBSCAN clusters again when one cluster swallows the corpus."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hdbscan import HDBSCAN
from sklearn.decomposition import PCA

from psythemes.errors import InputError, PsythemesWarning
from psythemes.schema import SEGMENT_COLUMNS
from psythemes.themes.clustering import HDBSCANAlwaysFiner, HDBSCANWithFallback, always_finer
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


def test_always_finer_clusters_again_without_a_dominant_cluster():
    X = blobs(1.5)
    ours = HDBSCANAlwaysFiner(min_cluster_size=10).fit(X)
    assert ours.fallback_["largest_share_before"] <= DOMINANT_SHARE
    assert ours.fallback_["min_samples"] == 3 == ours.min_samples
    np.testing.assert_array_equal(ours.labels_, HDBSCAN(min_cluster_size=10, min_samples=3).fit(X).labels_)


def test_always_finer_keeps_a_subclass_own_second_clustering():
    class FallbackToTwo(HDBSCANWithFallback):
        def _fallback_min_samples(self) -> int:
            return 2

    finer = always_finer(FallbackToTwo(min_cluster_size=10)).fit(blobs(1.5))
    assert isinstance(finer, FallbackToTwo) and finer.fallback_["min_samples"] == 2
    assert type(always_finer(HDBSCANWithFallback(min_cluster_size=10))) is HDBSCANAlwaysFiner


def blob_segments() -> pd.DataFrame:
    """A segment table for the 380 points of :func:`blobs`, with words that differ by blob."""
    words = ["sleep insomnia nights", "work manager deadline", "dog river walk", "pain chest breathing", "family kids"]
    blob = np.repeat(np.arange(5), [80, 80, 80, 80, 60])
    rows = []
    for k, b in enumerate(blob):
        text = f"{words[b]} and {words[b].split()[0]} again"
        rows.append({"doc_id": f"D{k % 6}", "segment_id": f"D{k % 6}:{k}", "speaker": "P", "role": "participant",
                     "start": 100 * k, "end": 100 * k + len(text), "text": text, "t_start": np.nan, "t_end": np.nan})
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


def discoverer(min_cluster_size: int, **params):
    from sklearn.decomposition import PCA

    from psythemes.discover import ThemeDiscoverer

    return ThemeDiscoverer(umap_model=PCA(n_components=2),
                           hdbscan_model=HDBSCANWithFallback(min_cluster_size=min_cluster_size),
                           representation=None, random_state=0, **params)


def test_discoverer_says_when_it_clustered_again():
    disc = discoverer(30)
    with pytest.warns(PsythemesWarning, match="clustered again with min_samples=10"):
        disc.fit(blob_segments(), blobs(1.0).astype(np.float32))
    assert disc.summary()["clustering_fallback"]["min_samples"] == 10
    assert disc.clustering_fallback_["reason"] == "one cluster"


def test_fallback_never_and_always_are_obeyed():
    import warnings

    segs = blob_segments()
    with pytest.warns(PsythemesWarning, match="one theme holds"):
        never = discoverer(30, fallback="never").fit(segs, blobs(1.0).astype(np.float32))
    assert never.clustering_fallback_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("error", PsythemesWarning)  # asked for: no warning
        always = discoverer(10, fallback="always").fit(segs, blobs(1.5).astype(np.float32))
    assert always.clustering_fallback_["reason"] == "asked"
    assert always.clustering_fallback_["min_samples"] == 3
    with pytest.raises(InputError, match="fallback must be one of"):
        discoverer(10, fallback="sometimes").fit(segs, blobs(1.5).astype(np.float32))


@pytest.fixture
def first_seed_falls_back(monkeypatch) -> list[float]:
    """Only the first dominance test says "cluster again", as if only the first seed had a dominant
    cluster; the list collects the largest shares tested."""
    calls: list[float] = []

    def first_run_only(self, largest_share):
        calls.append(largest_share)
        return len(calls) == 1

    monkeypatch.setattr(HDBSCANWithFallback, "_clusters_again", first_run_only)
    return calls


def test_once_one_seeded_run_falls_back_every_run_is_clustered_that_way(first_seed_falls_back):
    """The runs of a stability check are clustered one way: a run that fell back and one that did not
    share few themes (ESConv, docs/themes.md)."""
    calls = first_seed_falls_back
    X = blobs(1.5).astype(np.float32)
    disc = discoverer(10, n_runs=3)
    with pytest.warns(PsythemesWarning, match="1 of the 3 seeded runs needed it"):
        disc.fit(blob_segments(), X)
    assert len(calls) == 3  # one test per seeded run; the refits and the reported fit always cluster again
    assert disc.stability_["seeds_fallen_back"] == [0]
    assert disc.clustering_fallback_["reason"] == "other runs" and disc.clustering_fallback_["seeds"] == [0]
    for run in disc._runs:  # one PCA for every seed: the runs are alike once clustered alike
        np.testing.assert_array_equal(run["labels"], disc._runs[0]["labels"])
    finer = HDBSCAN(min_cluster_size=10, min_samples=3).fit(disc.topic_model_.umap_model.transform(X))
    assert len(set(disc.labels_.tolist()) - {-1}) == len(set(finer.labels_.tolist()) - {-1})

    # resampled runs follow the seeded runs' decision too
    calls.clear()
    with pytest.warns(PsythemesWarning, match="1 of the 3 seeded runs needed it"):
        resampled = discoverer(10, n_runs=3, resample=0.8).fit(blob_segments(), X)
    assert len(calls) == 6 and all(run["fell_back"] for run in resampled._runs)
    assert [r["kind"] for r in resampled.stability_["runs"]].count("resample") == 3


class CountingPCA(PCA):
    """PCA that counts its fits (the reducer of a stability run is fitted once per seed)."""

    fits = 0

    def fit_transform(self, X, y=None):
        CountingPCA.fits += 1
        return super().fit_transform(X, y)


def test_a_run_clustered_again_reuses_its_reduction(first_seed_falls_back):
    """Runs clustered the finer way after the fallback decision keep their layout: no second reducer fit."""
    from psythemes.discover import ThemeDiscoverer

    X = blobs(1.5).astype(np.float32)
    CountingPCA.fits = 0
    disc = ThemeDiscoverer(umap_model=CountingPCA(n_components=2), representation=None, random_state=0, n_runs=3,
                           hdbscan_model=HDBSCANWithFallback(min_cluster_size=10))
    with pytest.warns(PsythemesWarning, match="1 of the 3 seeded runs needed it"):
        disc.fit(blob_segments(), X)
    assert CountingPCA.fits == 4  # 3 seeds + the reported fit; was + 2 refits
    reducer = disc.topic_model_.umap_model
    assert isinstance(reducer, CountingPCA)  # the fitted reducer, not a wrapper
    np.testing.assert_allclose(reducer.transform(X[:5]), PCA(n_components=2).fit(X).transform(X[:5]), atol=1e-4)


def test_a_stability_check_announces_each_run(first_seed_falls_back, caplog):
    """Minutes of fitting: each run is logged at INFO (the CLI shows it beside its spinner)."""
    import logging

    from psythemes.discover import ThemeDiscoverer

    disc = discoverer(10, n_runs=2, resample=0.8)
    with caplog.at_level(logging.INFO, logger="psythemes.themes"), pytest.warns(PsythemesWarning):
        disc.fit(blob_segments(), blobs(1.5).astype(np.float32))
    messages = [r.getMessage() for r in caplog.records if r.name == "psythemes.themes"]
    assert messages[:4] == ["stability run 1 of 4 (seed 0)", "stability run 2 of 4 (seed 1)",
                            "stability run 3 of 4 (seed 0, resampled)", "stability run 4 of 4 (seed 1, resampled)"]
    assert messages[4:] == ["clustering 3 run(s) again, finer", f"the reported run (seed {disc.random_state_})"]
    caplog.clear()
    ThemeDiscoverer(umap_model=PCA(n_components=2), representation=None).fit(blob_segments(), blobs(1.5))
    assert not [r for r in caplog.records if r.name == "psythemes.themes"]  # one run: nothing to announce


def test_a_run_clustered_again_on_its_kept_layout_equals_a_fresh_finer_run(first_seed_falls_back):
    """With the default preset (UMAP): reusing a run's layout gives the themes a fresh fit would."""
    from psythemes.discover import ThemeDiscoverer

    noise = np.random.default_rng(1).normal(0, 0.05, size=(380, 14))
    segs, X = blob_segments(), np.hstack([blobs(1.5), noise]).astype(np.float32)
    with pytest.warns(PsythemesWarning, match="1 of the 2 seeded runs needed it"):
        checked = ThemeDiscoverer(representation=None, random_state=0, n_runs=2).fit(segs, X)
    fresh = ThemeDiscoverer(representation=None, random_state=1, fallback="always").fit(segs, X)
    np.testing.assert_array_equal(checked._runs[1]["labels"], fresh.labels_)


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
