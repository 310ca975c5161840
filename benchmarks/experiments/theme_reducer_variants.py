"""Stability of the ``default`` preset's themes with other dimension reductions in front of HDBSCAN.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/experiments/theme_reducer_variants.py --corpus annomi \
        --variant umap --variant epochs1000 --variant ensemble3

Variants: ``umap`` (one UMAP, the preset before StackedUMAP), ``epochsN`` (one UMAP with
``n_epochs=N``), ``ensembleK`` (K seeded UMAPs, their 5-d outputs side by side,
:class:`psythemes.themes.reduction.StackedUMAP`; the preset ships K = 3). A suffix
``:fallback=M`` sets the ``min_samples`` HDBSCAN uses when it clusters again because one cluster
took over half the corpus (shipped: ``min_cluster_size // 3``, 3 at the default size), e.g.
``ensemble3:fallback=1``; ``:size=K`` sets that second clustering's ``min_cluster_size`` (shipped:
unchanged, the preset's ``min_topic_size``), e.g. ``ensemble3:size=20`` or ``ensemble3:fallback=5:size=20``.
``:adaptive`` makes the second clustering try ``min_cluster_size`` 2, 1.5 and 1.2 times the preset's
(``min_samples`` a third of it) and keep the largest that no cluster takes over (else the shipped one).
``--which-fall-back A-B`` lists which ESConv samples make the preset fall back at all.
``:eps=E`` sets the second clustering's ``cluster_selection_epsilon`` (clusters closer than E in the
reduced space merge).  ``--sample-seed S`` draws another sample of AnnoMI's or ESConv's transcripts.
For each:
``ThemeDiscoverer(n_runs=5)`` (seeds 0-4, reported run = most central), keywords left plain;
prints themes, outlier share, mean stability of the reported run's themes, the unstable ones, NMI
with the human codes and the seconds taken. Issue #19's stability target (docs/themes.md).

Measured stability, umap / ensemble3 / ensemble5 / epochs1000: AnnoMI 0.763 / 0.867 / 0.833 / 0.813;
demo 0.889 / 0.909 / - / 0.858; ESConv 0.708 / 0.772 / 0.772 / 0.630 (NMI 0.158 / 0.171 / 0.167 / 0.168).
ESConv, ensemble3 with fallback ``min_samples`` 1 / 2 / 3 (shipped) / 5, one later run
(2026-12-06): 0.767 / 0.778 / 0.762 / 0.759 (NMI 0.174 / 0.165 / 0.165 / 0.160).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "experiments"))

import theme_quality as tq  # noqa: E402
from hdbscan import HDBSCAN  # noqa: E402
from theme_stability_sweep import fit_and_print  # noqa: E402

from psythemes.embed import Embedder  # noqa: E402
from psythemes.themes import presets  # noqa: E402
from psythemes.themes.clustering import HDBSCANWithFallback  # noqa: E402
from psythemes.themes.presets import DOMINANT_SHARE, dominant_share  # noqa: E402
from psythemes.themes.reduction import StackedUMAP  # noqa: E402


def _fixed_fallback(fallback: int | None, size: int | None = None,
                    eps: float | None = None) -> type[HDBSCANWithFallback]:
    """HDBSCANWithFallback whose second clustering uses ``fallback`` as ``min_samples`` (None: the
    shipped rule) and, with ``size``, that ``min_cluster_size``; with ``eps``, that
    ``cluster_selection_epsilon`` (clusters closer than it in the reduced space are merged).

    A subclass without an ``__init__`` of its own: scikit-learn's ``get_params`` (which hdbscan
    calls in ``fit``) reads the parameters from the ``__init__`` signature.
    """
    def min_samples(self: HDBSCANWithFallback) -> int:
        if size is not None:  # read by fit right before the second clustering
            self.set_params(min_cluster_size=size)
        if eps is not None:
            self.set_params(cluster_selection_epsilon=eps)
        return fallback if fallback is not None else HDBSCANWithFallback._fallback_min_samples(self)

    return type(f"FixedFallback{fallback}_{size}", (HDBSCANWithFallback,), {"_fallback_min_samples": min_samples})


def _adaptive_fallback(factors: tuple[float, ...] = (2.0, 1.5, 1.2)) -> type[HDBSCANWithFallback]:
    """HDBSCANWithFallback whose second clustering tries larger ``min_cluster_size`` first
    (``factors`` times the preset's, ``min_samples`` a third of it) and keeps the largest that no
    cluster takes over; if all of them collapse, the shipped second clustering."""
    class AdaptiveFallback(HDBSCANWithFallback):
        def fit(self, X, y=None):  # type: ignore[no-untyped-def]
            HDBSCAN.fit(self, X, y)
            self.fallback_ = None
            first = dominant_share(self.labels_)
            if first <= DOMINANT_SHARE or self.min_samples is not None:
                return self
            base = self.min_cluster_size
            for size in [round(base * f) for f in factors] + [base]:
                self.set_params(min_cluster_size=size, min_samples=max(1, size // 3))
                HDBSCAN.fit(self, X, y)
                if dominant_share(self.labels_) <= DOMINANT_SHARE:
                    break
            self.fallback_ = {"largest_share_before": round(first, 4), "min_cluster_size": size,
                              "min_samples": self.min_samples,
                              "largest_share_after": round(dominant_share(self.labels_), 4)}
            print(f"    adaptive fallback: min_cluster_size {size}", flush=True)
            return self

    return AdaptiveFallback


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    tq.add_sample_arguments(parser, default="annomi")
    parser.add_argument("--variant", action="append", default=None)
    parser.add_argument("--which-fall-back", metavar="A-B",
                        help="instead: for ESConv samples A..B, fit the default preset once (seed 0) and say "
                             "whether its clustering fell back (one cluster over half the segments)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.which_fall_back:
        from psythemes.themes import ThemeDiscoverer

        first, _, last = args.which_fall_back.partition("-")
        for rng in range(int(first), int(last or first) + 1):
            segs, _, _ = tq.corpus_esconv(80, rng)
            X = Embedder(cache_dir=ROOT / ".psythemes-cache" / "embeddings").embed_segments(segs)
            found = ThemeDiscoverer(n_runs=1, representation=None, by=(), random_state=0).fit(segs, X)
            print(f"esconv sample {rng}: {len(segs)} segments, {len(found.themes_)} themes, "
                  f"{'fell back' if found.clustering_fallback_ else 'no fallback'}", flush=True)
        return 0
    segs, codes, _ = tq.corpus_sample(args.corpus, args.sample_seed)
    X = Embedder(cache_dir=ROOT / ".psythemes-cache" / "embeddings").embed_segments(segs)
    original = tq._default_parts  # the preset without the benchmark's UMAP memo
    for variant in args.variant or ["umap"]:
        name, *options = variant.split(":")
        option = dict(o.partition("=")[::2] for o in options)
        if option == {"adaptive": ""}:
            clusterer: type[HDBSCANWithFallback] | None = _adaptive_fallback()
        elif (set(option) - {"fallback", "size", "eps"}
              or not all(v.isdigit() for k, v in option.items() if k != "eps")
              or not option.get("eps", "0").replace(".", "", 1).isdigit()):
            parser.error(f"bad option in {variant!r}: use :fallback=M and/or :size=K (whole numbers), :eps=E, "
                         "or :adaptive")
        else:
            fallback, size = (int(option[k]) if k in option else None for k in ("fallback", "size"))
            eps = float(option["eps"]) if "eps" in option else None
            clusterer = _fixed_fallback(fallback, size, eps) if option else None

        def parts(*a, _v=name, _clusterer=clusterer, **k):
            chosen = original(*a, **k)
            if _clusterer is not None:
                chosen["hdbscan_model"] = _clusterer(**chosen["hdbscan_model"].get_params())
            single = chosen["umap_model"].umap  # the preset's StackedUMAP holds the UMAP it copies
            chosen["umap_model"] = single
            if _v.startswith("epochs"):
                single.set_params(n_epochs=int(_v[6:]))
            elif _v.startswith("ensemble"):
                chosen["umap_model"] = StackedUMAP(single, n_layouts=int(_v[8:]))
            return chosen

        presets.PRESETS["default"] = parts
        sample = f" sample {args.sample_seed}" if args.sample_seed else ""
        fit_and_print(f"{args.corpus}{sample} {variant}", segs, X, codes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
