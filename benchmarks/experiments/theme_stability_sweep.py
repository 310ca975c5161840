"""Stability of the ``default`` preset's themes against UMAP's ``n_neighbors`` and ``min_topic_size``.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/experiments/theme_stability_sweep.py --corpus annomi \
        --n-neighbors 15,30,50 --min-topic-size 10

For each setting: ``ThemeDiscoverer(n_runs=5)`` (seeds 0-4, the reported run = the most central
one, keywords left plain: they do not change the partitions) on the theme benchmark's corpora
(``benchmarks/theme_quality.py``'s loaders and embedding cache); prints themes, outlier share, the
mean stability of the reported run's themes, the unstable ones, and NMI with the human codes.
This is how issue #19's AnnoMI stability target was looked at (docs/themes.md, *Measured: theme
quality*).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import theme_quality as tq  # noqa: E402

from psythemes.discover import ThemeDiscoverer  # noqa: E402
from psythemes.embed import Embedder  # noqa: E402
from psythemes.theme_quality import alignment  # noqa: E402
from psythemes.themes import presets  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", choices=list(tq.SAMPLE_SIZES), default="annomi")
    parser.add_argument("--n-neighbors", default="15")
    parser.add_argument("--min-topic-size", default="10")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    segs, codes, _ = tq.corpus_sample(args.corpus)
    X = Embedder(cache_dir=ROOT / ".psythemes-cache" / "embeddings").embed_segments(segs)
    for n_neighbors in map(int, args.n_neighbors.split(",")):
        def parts(*a, _n=n_neighbors, **k):  # the preset (un-memoised) with another n_neighbors
            chosen = tq._default_parts(*a, **k)
            chosen["umap_model"].umap.set_params(n_neighbors=_n)  # the UMAP that StackedUMAP copies
            return chosen

        presets.PRESETS["default"] = parts
        for size in map(int, args.min_topic_size.split(",")):
            fit_and_print(f"{args.corpus} n_neighbors={n_neighbors} min_topic_size={size}", segs, X, codes,
                          min_topic_size=size)
    return 0


def fit_and_print(title: str, segs: Any, X: Any, codes: Any, **options: Any) -> None:
    """Fit ``ThemeDiscoverer(n_runs=5, **options)`` (seeds 0-4, keywords left plain) and print one line:
    themes, outlier share, stability of the reported run, unstable themes, NMI with the coded segments."""
    coded = codes.notna().to_numpy()
    t0 = time.perf_counter()
    disc = ThemeDiscoverer(n_runs=5, representation=None, by=(), random_state=0, **options).fit(segs, X)
    st = disc.stability_
    nmi = alignment(disc.labels_[coded], codes[coded].tolist())["nmi"]
    print(f"{title}: {len(disc.themes_)} themes, outliers {disc.outlier_share_:.3f}, "
          f"stability {st['mean_theme_stability']:.4f} ({st['n_unstable']} unstable), NMI {nmi:.3f}, "
          f"{time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
