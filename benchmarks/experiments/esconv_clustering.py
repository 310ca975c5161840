"""HDBSCAN settings on ESConv's short support-chat turns, where the defaults give 2 themes.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/experiments/esconv_clustering.py

On the theme benchmark's ESConv sample (``benchmarks/theme_quality.py``'s loader: 80 of 1,297
dialogues, rng 0; embeddings from its cache), UMAP as in the ``default`` preset with seeds 0-4,
then HDBSCAN (``min_cluster_size=10``) with each setting below.  Prints, per setting, the themes
and outlier share of each seed, the stability of seed 0's themes over the other 4 seeds
(``psythemes.stability.theme_stability``, mean over themes) and seed 0's NMI with the supporter
strategies.  This is how ``HDBSCANWithFallback``'s second ``min_samples`` was chosen
(docs/themes.md, *Measured: theme quality*).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import theme_quality as tq  # noqa: E402
from hdbscan import HDBSCAN  # noqa: E402
from umap import UMAP  # noqa: E402

from psythemes.embed import Embedder  # noqa: E402
from psythemes.stability import theme_stability  # noqa: E402
from psythemes.theme_quality import alignment  # noqa: E402

SETTINGS = [("eom", None), ("eom", 5), ("eom", 3), ("leaf", None)]


def main() -> int:
    segs, codes, _ = tq.corpus_esconv(80)
    X = Embedder(cache_dir=ROOT / ".psythemes-cache" / "embeddings").embed_segments(segs)
    coded = codes.notna().to_numpy()
    reduced = [UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed, n_jobs=1,
                    low_memory=False).fit_transform(X) for seed in range(5)]
    for method, min_samples in SETTINGS:
        runs = [HDBSCAN(min_cluster_size=10, min_samples=min_samples, cluster_selection_method=method).fit_predict(r)
                for r in reduced]
        stability = float(np.nanmean(list(theme_stability(runs[0], runs[1:]).values())))
        print(f"{method} min_samples={min_samples}: themes {[len(set(r.tolist()) - {-1}) for r in runs]}, "
              f"outliers {[round(float(np.mean(r < 0)), 2) for r in runs]}, stability (seed 0) {stability:.3f}, "
              f"NMI (seed 0) {alignment(runs[0][coded], codes[coded].tolist())['nmi']:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
