"""Stability measure on constructed partitions, and ThemeDiscoverer(n_runs=...)."""

from __future__ import annotations

import numpy as np
import pytest
from test_discover import make_corpus

from psythemes.discover import ThemeDiscoverer
from psythemes.errors import InputError
from psythemes.stability import STABLE_JACCARD, best_match_jaccard, central_run, run_similarity, theme_stability


def test_identical_and_relabelled_partitions_have_jaccard_one():
    a = np.array([0, 0, 0, 1, 1, 2, 2, -1])
    b = np.array([5, 5, 5, 7, 7, 3, 3, -1])  # same sets, other ids
    assert best_match_jaccard(a, b) == {0: 1.0, 1: 1.0, 2: 1.0}
    assert run_similarity(a, b) == 1.0


def test_best_match_jaccard_by_hand():
    ref = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    other = np.array([0, 0, 0, 1, 1, 1, 1, -1])
    # theme 0 {0,1,2,3}: best {0,1,2} -> 3/4; theme 1 {4,5,6,7}: best {3,4,5,6} -> 3/5
    assert best_match_jaccard(ref, other) == {0: 0.75, 1: 0.6}
    # the reverse direction: {0,1,2} vs {0..3} -> 3/4; {3,4,5,6} vs {4..7} -> 3/5
    assert run_similarity(ref, other) == pytest.approx(((0.75 + 0.6) / 2 + (0.75 + 0.6) / 2) / 2)


def test_split_theme_and_all_outliers():
    ref = np.array([0, 0, 0, 0, 0, 0])
    split = np.array([1, 1, 1, 2, 2, 2])
    assert best_match_jaccard(ref, split) == {0: 0.5}
    assert best_match_jaccard(ref, np.full(6, -1)) == {0: 0.0}


def test_resampled_run_is_compared_on_the_segments_it_saw():
    ref = np.array([0, 0, 0, 1, 1, 1])
    other = np.array([4, 4, -1, -1, -1, -1])
    covered = np.array([True, True, False, False, False, False])
    # theme 0 restricted to the covered segments {0,1} matches {0,1} exactly; theme 1 unseen -> NaN
    result = best_match_jaccard(ref, other, other_covered=covered)
    assert result[0] == 1.0 and np.isnan(result[1])
    stab = theme_stability(ref, [other, ref.copy()], [covered, None])
    assert stab == {0: 1.0, 1: 1.0}


def test_central_run_is_the_one_between_the_others():
    base = np.repeat([0, 1, 2, 3], 5)
    a = base.copy()
    b = base.copy()
    b[[0, 5]] = [1, 0]  # two segments swapped
    c = base.copy()
    c[[1, 6, 10]] = [2, 3, 0]  # three moved
    odd = np.repeat([0, 1], 10)                      # merges themes: far from everyone
    idx, sim = central_run([odd, b, a, c])
    assert idx == 2  # the unperturbed run agrees most with the rest
    assert sim.shape == (4, 4) and np.allclose(np.diag(sim), 1)
    assert np.allclose(sim, sim.T)
    idx, _ = central_run([odd, b, a, c], candidates=[0, 1])
    assert idx == 1


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        best_match_jaccard(np.array([0, 1]), np.array([0, 1, 1]))


def test_discoverer_reports_the_central_run_with_a_stability_column():
    seg, X, truth = make_corpus()
    disc = ThemeDiscoverer(preset="fast", n_themes=3, random_state=0, n_runs=3).fit(seg, X)
    st = disc.stability_
    assert [r["seed"] for r in st["runs"]] == [0, 1, 2]
    assert sum(r["central"] for r in st["runs"]) == 1
    assert disc.random_state_ == st["reported_seed"]
    assert {"stability", "stable"} <= set(disc.themes_.columns)
    # three well separated clusters: every seed finds them, so every theme is stable
    assert (disc.themes_["stability"] == 1.0).all() and disc.themes_["stable"].all()
    assert st["mean_theme_stability"] == 1.0 and st["n_unstable"] == 0
    assert disc.summary()["stability"]["threshold"] == STABLE_JACCARD


def test_too_many_themes_are_flagged_unstable():
    seg, X, _ = make_corpus()
    # 12 k-means clusters in 3 real groups: the splits move from seed to seed
    disc = ThemeDiscoverer(preset="fast", n_themes=12, random_state=0, n_runs=4, resample=0.7).fit(seg, X)
    st = disc.stability_
    assert len(st["runs"]) == 8 and {r["kind"] for r in st["runs"]} == {"seed", "resample"}
    assert all(r["n_docs"] < 6 for r in st["runs"] if r["kind"] == "resample")
    assert st["mean_theme_stability"] < 0.9
    assert (~disc.themes_["stable"]).sum() == st["n_unstable"]
    assert disc.themes_["stability"].between(0, 1).all()


def test_stability_parameters_are_checked():
    seg, X, _ = make_corpus()
    with pytest.raises(InputError, match="n_runs"):
        ThemeDiscoverer(preset="fast", n_runs=0).fit(seg, X)
    with pytest.raises(InputError, match="resample"):
        ThemeDiscoverer(preset="fast", n_runs=2, resample=1.5).fit(seg, X)
