"""Issue #19: report a consensus of the seeded runs instead of the most central run?

The ``default`` preset's clustering (three stacked seeded UMAPs + HDBSCAN with its fallback, as
``ThemeDiscoverer`` fits each light stability run) is fitted with seeds 0-9.  Set A = seeds 0-4 (what
``n_runs=5`` fits), set B = seeds 5-9 (a re-run elsewhere with other seeds).  For each set:

- the **central run** (what psythemes reports now, :func:`psythemes.stability.central_run`);
- an **evidence-accumulation consensus** (Fred & Jain 2005): the share of the set's runs in which two
  segments share a theme (outliers share nothing), average-linkage clustering of ``1 - share`` cut at
  ``CUT``, groups smaller than ``min_topic_size`` (10) become outliers.

With ``--one-fallback-decision``, also the central run when a set makes one decision about the
fallback for all its runs: if any run falls back, every run is clustered as the fallback does
(``min_samples = min_topic_size // 3``), so the runs compared are all of one kind.

Printed (best-match Jaccard, mean over the reported partition's themes,
:func:`psythemes.stability.theme_stability`): each reported partition against the runs of its own set
(in-sample: what ``themes_run.json`` reports; optimistic for the consensus, which is built from those
runs), against the runs of the other set (out-of-sample), and against the other set's reported
partition (reproducibility of a whole re-run), with its NMI against the human codes.

Usage (from the repository root; about 1-2 minutes per seed on a 2-core machine)::

    PYTHONPATH=src .venv/bin/python benchmarks/experiments/theme_consensus.py --corpus esconv

The partitions of the ten seeds are kept in ``.psythemes-cache/theme_consensus/`` (git-ignored), so a
second call with other ``--cut`` values does not fit again.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import theme_quality as tq  # noqa: E402

from psythemes.embed import Embedder  # noqa: E402
from psythemes.stability import central_run, theme_stability  # noqa: E402
from psythemes.theme_quality import alignment  # noqa: E402
from psythemes.themes.presets import default_parts  # noqa: E402

MIN_TOPIC_SIZE = 10


def seeded_partitions(X: np.ndarray, seeds: range, store: Path) -> list[np.ndarray]:
    """Labels of the ``default`` preset's reduction + clustering per seed (read back from ``store``)."""
    if store.exists():
        saved = np.load(store)
        if len(saved) == len(seeds):
            return list(saved)
    runs = []
    for seed in seeds:
        t0 = time.perf_counter()
        parts = default_parts(len(X), X.shape[1], min_topic_size=MIN_TOPIC_SIZE, n_themes=None, random_state=seed)
        clusterer = parts["hdbscan_model"].fit(parts["umap_model"].fit_transform(X))
        runs.append(np.asarray(clusterer.labels_))
        print(f"seed {seed}: {len(set(runs[-1].tolist()) - {-1})} themes, outliers {np.mean(runs[-1] == -1):.3f}, "
              f"fallback {'yes' if clusterer.fallback_ else 'no'} ({time.perf_counter() - t0:.0f} s)", flush=True)
    store.parent.mkdir(parents=True, exist_ok=True)
    np.save(store, np.array(runs))
    return runs


def finer_partitions(X: np.ndarray, seeds: range, store: Path) -> tuple[list[np.ndarray], list[bool]]:
    """Per seed, the labels of the fallback's finer clustering (``min_samples = min_topic_size // 3``)
    whether or not the seed falls back, and whether it does (read back from ``store``, an ``.npz``)."""
    if store.exists():
        saved = np.load(store)
        if len(saved["labels"]) == len(seeds):
            return list(saved["labels"]), saved["fell_back"].tolist()
    runs, fell_back = [], []
    for seed in seeds:
        t0 = time.perf_counter()
        parts = default_parts(len(X), X.shape[1], min_topic_size=MIN_TOPIC_SIZE, n_themes=None, random_state=seed)
        reduced = parts["umap_model"].fit_transform(X)
        fell_back.append(parts["hdbscan_model"].fit(reduced).fallback_ is not None)
        finer = parts["hdbscan_model"].set_params(min_samples=max(1, MIN_TOPIC_SIZE // 3)).fit(reduced)
        runs.append(np.asarray(finer.labels_))
        print(f"seed {seed}, finer clustering: {len(set(runs[-1].tolist()) - {-1})} themes, outliers "
              f"{np.mean(runs[-1] == -1):.3f}, falls back {'yes' if fell_back[-1] else 'no'} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    store.parent.mkdir(parents=True, exist_ok=True)
    np.savez(store, labels=np.array(runs), fell_back=np.array(fell_back))
    return runs, fell_back


def consensus(runs: list[np.ndarray], cut: float, min_size: int = MIN_TOPIC_SIZE) -> np.ndarray:
    """Evidence-accumulation consensus of ``runs`` (see the module docstring)."""
    n = len(runs[0])
    together = np.zeros((n, n))
    for labels in runs:
        together += (labels[:, None] == labels[None, :]) & (labels[:, None] != -1)
    distance = 1 - together / len(runs)
    np.fill_diagonal(distance, 0)
    groups = fcluster(linkage(squareform(distance, checks=False), method="average"), t=cut, criterion="distance")
    out = np.full(n, -1)
    ids, counts = np.unique(groups, return_counts=True)
    for k, g in enumerate(ids[counts >= min_size]):
        out[groups == g] = k
    return out


def mean_stability(reference: np.ndarray, others: list[np.ndarray]) -> float:
    values = [v for v in theme_stability(reference, others).values() if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    tq.add_sample_arguments(parser, default="esconv")
    parser.add_argument("--cut", type=float, action="append", default=None,
                        help="consensus cut(s) on 1 - co-membership share (default 0.5 and 0.7)")
    parser.add_argument("--one-fallback-decision", action="store_true",
                        help="also: when any run of a set falls back, cluster all its runs as the fallback does "
                             "(fits the ten seeds once more where a set falls back)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    segs, codes, _ = tq.corpus_sample(args.corpus, args.sample_seed)
    X = Embedder(cache_dir=ROOT / ".psythemes-cache" / "embeddings").embed_segments(segs)
    store = ROOT / ".psythemes-cache" / "theme_consensus" / f"{args.corpus}_{args.sample_seed}.npy"
    runs = seeded_partitions(X, range(10), store)
    sets = {"A (seeds 0-4)": runs[:5], "B (seeds 5-9)": runs[5:]}
    methods = ["central run"] + [f"consensus, cut {c}" for c in (args.cut or [0.5, 0.7])]
    if args.one_fallback_decision:
        finer, fell_back = finer_partitions(X, range(10), store.with_name(store.stem + "_finer.npz"))
        print(f"seeds that fell back: {[s for s in range(10) if fell_back[s]]}", flush=True)
        one_decision = {name: (finer[lo:lo + 5] if any(fell_back[lo:lo + 5]) else runs[lo:lo + 5])
                        for name, lo in (("A (seeds 0-4)", 0), ("B (seeds 5-9)", 5))}
        methods.append("central run, one fallback decision")
    coded = codes.notna().to_numpy()

    def nmi(labels: np.ndarray) -> float:
        return alignment(labels[coded], codes[coded].tolist())["nmi"]

    covered = [np.ones(len(X), dtype=bool)] * 5
    for method in methods:
        reported, in_sample = {}, {}
        method_sets = one_decision if method.endswith("one fallback decision") else sets
        for name, own in method_sets.items():
            if method.startswith("central run"):
                centre = central_run(own, covered)[0]
                reported[name], in_sample[name] = own[centre], own[:centre] + own[centre + 1:]
            else:  # the consensus is none of the runs: all five are "other" runs
                reported[name], in_sample[name] = consensus(own, float(method.rsplit(" ", 1)[1])), own
        (a, runs_a), (b, runs_b) = method_sets.items()
        for name, own, other, other_name in ((a, runs_a, runs_b, b), (b, runs_b, runs_a, a)):
            labels, own = reported[name], in_sample[name]
            print(f"{args.corpus} sample {args.sample_seed}, {method}, set {name}: "
                  f"{len(set(labels.tolist()) - {-1})} themes, outliers {np.mean(labels == -1):.3f}; "
                  f"stability in-sample {mean_stability(labels, own):.4f}, against the other set's runs "
                  f"{mean_stability(labels, other):.4f}, against the other set's reported partition "
                  f"{mean_stability(labels, [reported[other_name]]):.4f}; NMI {nmi(labels):.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
