"""Active learning (issue #17): ActiveSampler and `psythemes next`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from psythemes.active import ActiveSampler


def _blobs(seed: int = 0, per: int = 60):
    """Three codes as three clusters on the unit sphere, spread over six transcripts."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[:3]
    X, y = [], []
    for k, c in enumerate(centres):
        pts = c + 0.35 * rng.standard_normal((per, 8))
        X.append(pts)
        y += [f"c{k}"] * per
    X = np.vstack(X)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    docs = np.array([f"d{i % 6}" for i in range(len(X))])
    return X.astype(np.float32), np.array(y), docs


def test_cold_start_is_a_balanced_representative_sample():
    X, y, docs = _blobs()
    picked = ActiveSampler(n=12, random_state=0).select(X, [], [], docs)
    assert len(picked) == 12 == len(set(picked))
    assert set(y[picked]) == {"c0", "c1", "c2"}  # k-means centres cover every cluster
    assert max(pd.Series(docs[picked]).value_counts()) <= 4  # ceil(2 * 12 / 6)


def test_picks_are_unlabelled_uncertain_and_reproducible():
    X, y, docs = _blobs()
    labelled = np.r_[0:10, 60:70, 120:130]
    sampler = ActiveSampler(n=15, random_state=1)
    picked = sampler.select(X, labelled, list(y[labelled]), docs)
    assert not set(picked) & set(labelled)
    assert sampler.classifier_ is not None
    unl = np.setdiff1d(np.arange(len(X)), labelled)
    u = pd.Series(sampler.uncertainty_, index=unl)
    assert u[picked].mean() > u.mean()  # more uncertain than the pool on average
    again = ActiveSampler(n=15, random_state=1).select(X, labelled, list(y[labelled]), docs)
    assert list(picked) == list(again)


def test_multilabel_and_candidates():
    X, y, docs = _blobs()
    labelled = np.r_[0:10, 60:70]
    labels = [[str(v)] for v in y[labelled]]
    labels[0] = []  # a segment with no code
    picked = ActiveSampler(n=5).select(X, labelled, labels, docs, candidates=np.arange(100, 150), multilabel=True)
    assert len(picked) == 5 and set(picked) <= set(range(100, 150))


def test_active_beats_random_on_a_hard_boundary():
    """Two codes separated by a thin margin: uncertainty sampling should find it faster than random."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 6)).astype(np.float32)
    y = np.where(X[:, 0] + 0.2 * X[:, 1] > 0.8, "a", "b")  # a minority code
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    docs = np.array([f"d{i % 20}" for i in range(len(X))])
    test, pool = np.arange(1500, 2000), np.arange(1500)

    def accuracy(idx):
        return LogisticRegression(C=10, max_iter=1000).fit(X[idx], y[idx]).score(X[test], y[test])

    scores = {"active": [], "random": []}
    for seed in range(3):
        labelled = np.random.default_rng(seed).choice(pool, 20, replace=False)
        for _ in range(4):
            picked = ActiveSampler(n=20, random_state=seed).select(X, labelled, list(y[labelled]), docs,
                                                                   candidates=pool)
            labelled = np.r_[labelled, picked]
        scores["active"].append(accuracy(labelled))
        scores["random"].append(accuracy(np.random.default_rng(seed).choice(pool, len(labelled), replace=False)))
    assert np.mean(scores["active"]) > np.mean(scores["random"])


def test_cli_next_writes_a_review_sheet(tmp_path, monkeypatch, capsys):
    openpyxl = pytest.importorskip("openpyxl")
    import psythemes.embed as embed_mod
    from psythemes.cli import main

    from test_review import make_run  # the hand-made run folder

    run = make_run(tmp_path)
    monkeypatch.setattr(embed_mod.Embedder, "embed_segments",
                        lambda self, segs: np.random.default_rng(0).standard_normal((len(segs), 8)).astype(np.float32))
    rc = main(["next", str(run), "--n", "1", "--out", str(tmp_path / "next.xlsx")])
    assert rc == 0, capsys.readouterr().err
    assert "1 segments from 1 transcripts" in capsys.readouterr().out
    ws = openpyxl.load_workbook(tmp_path / "next.xlsx")["review"]
    assert ws.max_row >= 2
    # after a review of one segment that segment is not chosen again
    from psythemes.review import REVIEW_COLUMNS

    first = ws.cell(2, REVIEW_COLUMNS.index("segment_id") + 1).value
    ws.cell(2, REVIEW_COLUMNS.index("decision") + 1, "reject")
    ws.parent.save(tmp_path / "done.xlsx")
    rc = main(["next", str(run), "--n", "1", "--gold", str(tmp_path / "done.xlsx"), "--reviewer", "anna",
               "--out", str(tmp_path / "next2.csv")])
    assert rc == 0, capsys.readouterr().err
    again = pd.read_csv(tmp_path / "next2.csv", encoding="utf-8-sig")
    assert first not in set(again["segment_id"]) and set(again["reviewer"]) == {"anna"}
    # as review does, an .xlsx gets its CSV copy; asking for more than is left says so
    capsys.readouterr()
    assert main(["next", str(run), "--n", "50", "--gold", str(tmp_path / "done.xlsx"),
                 "--out", str(tmp_path / "next3.xlsx")]) == 0
    out = capsys.readouterr().out
    left = len(pd.read_csv(run / "segments.csv")) - 1
    assert f"{left} segments (all {left} not yet labelled) from" in out and "(and " in out
    assert (tmp_path / "next3.csv").is_file()
