"""Theme quality: BERTopic's defaults against psythemes' presets on the demo corpus, AnnoMI and ESConv.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/theme_quality.py            # all three corpora
    PYTHONPATH=src .venv/bin/python benchmarks/theme_quality.py --only demo --seeds 3

Writes ``benchmarks/results/theme_quality.json`` and ``benchmarks/results/theme_quality.md``.

Per corpus and configuration, 5 seeds (``--seeds``) are fitted; reported are

- **stability**: mean over the reported run's themes of their best-match Jaccard with the
  other seeds' runs (:mod:`psythemes.stability`); ``stability_all_runs`` averages that over
  every run taken as the reference (what a random seed gives);
- **coherence**: NPMI of the reported run's top-10 keywords over the corpus, each segment a
  document, terms as that configuration's own vectorizer counts them
  (:func:`psythemes.theme_quality.npmi_coherence`, checked against gensim in the tests);
- **diversity**: distinct keywords / all keywords (top 10);
- **alignment** with the human codes: NMI, ARI, purity on the segments that have exactly one
  code (outliers are one more cluster), for the reported run and the mean over seeds.

Configurations: ``bertopic_default`` = ``BERTopic()`` with its default UMAP, HDBSCAN
(min_topic_size 10), ``CountVectorizer()`` and c-TF-IDF on the same embeddings; its UMAP is
given ``random_state=seed`` (BERTopic's default is unseeded, hence not reproducible), and its
reported run is seed 0.  ``psythemes_default`` = preset ``default`` with its default keywords
(shared words, part-of-speech filter, KeyBERT, words used together) and ``n_runs=5`` (reported
run = the most central seed); ``psythemes_default_ctfidf`` the same with c-TF-IDF keywords
(shared words only, ``representation=None``); ``psythemes_keybert_mmr`` with KeyBERT + MMR
after the part-of-speech filter (the default before 2026-12-05); ``psythemes_together`` without
KeyBERT;
``psythemes_default_reduce`` the same as ``psythemes_default`` with ``reduce_outliers=True``; ``psythemes_fast`` =
preset ``fast``.  BERTopic's default UMAP/HDBSCAN parameters are those of psythemes'
``default`` preset, so with the same seed both find the same partition: UMAP reductions are
therefore memoised per (embeddings, parameters, seed) and shared between configurations.

Corpora (read from ``../shared/corpora`` or ``$PSYTHEMES_SHARED``; never copied): the demo
corpus (all transcripts; gold = coder A of ``codes/reference.csv``, aligned with
``psythemes.evaluate.align_gold``); AnnoMI, a reproducible sample of ``--annomi-docs``
transcripts (gold = therapist behaviour / client talk type, prefixed by the speaker); ESConv, a
sample of ``--esconv-docs`` dialogues from train+valid+test (gold = supporter strategy; seeker
turns have none).  Samples are drawn with ``numpy.random.default_rng(0)`` over sorted document
ids: the machine is shared, full corpora would take hours.  Embeddings: psythemes' ``Embedder``
(onnx backend, cache in ``.psythemes-cache/embeddings``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from psythemes import discover  # noqa: E402
from psythemes.discover import ThemeDiscoverer, load_segments  # noqa: E402
from psythemes.embed import Embedder  # noqa: E402
from psythemes.errors import PsythemesWarning  # noqa: E402
from psythemes.outputs import write_json, write_text  # noqa: E402
from psythemes.stability import theme_stability  # noqa: E402
from psythemes.theme_quality import alignment, npmi_coherence, topic_diversity  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DEMO = ROOT / "corpora" / "psychosomatic-demo"


# --------------------------------------------------------------------------------------------
# UMAP memo: the same reduction is computed once for all configurations


class MemoUMAP:
    """Wraps a seeded UMAP; ``fit_transform`` of the same data with the same parameters is computed once."""

    _memo: dict[str, np.ndarray] = {}

    def __init__(self, umap: Any):
        self.umap = umap

    def _key(self, X: np.ndarray) -> str:
        params = json.dumps(self.umap.get_params(), sort_keys=True, default=str)
        return hashlib.sha256(params.encode() + np.ascontiguousarray(X, dtype=np.float32).tobytes()).hexdigest()

    def fit_transform(self, X: np.ndarray, y: Any = None) -> np.ndarray:
        key = self._key(X)
        if key not in self._memo:
            self._memo[key] = self.umap.fit_transform(X)
        self._fitted_key = key
        return self._memo[key]

    def fit(self, X: np.ndarray, y: Any = None) -> MemoUMAP:
        self.fit_transform(X)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self._key(X) == getattr(self, "_fitted_key", None):
            return self._memo[self._fitted_key]
        raise RuntimeError("MemoUMAP transforms only the data it was fitted on")


_default_parts = discover.PRESETS["default"]


def _memo_default_parts(*args: Any, **kwargs: Any) -> dict[str, Any]:
    parts = _default_parts(*args, **kwargs)
    parts["umap_model"] = MemoUMAP(parts["umap_model"])
    return parts


discover.PRESETS["default"] = _memo_default_parts


# --------------------------------------------------------------------------------------------
# corpora


def _shared() -> Path:
    return Path(os.environ.get("PSYTHEMES_SHARED", ROOT.parent / "shared"))


def _sample_docs(frame: pd.DataFrame, n_docs: int | None, seed: int = 0) -> pd.DataFrame:
    docs = np.array(sorted(frame["doc_id"].unique()))
    if n_docs is None or n_docs >= len(docs):
        return frame.reset_index(drop=True)
    chosen = set(np.random.default_rng(seed).choice(docs, size=n_docs, replace=False).tolist())
    return frame[frame["doc_id"].isin(chosen)].reset_index(drop=True)


def corpus_demo() -> tuple[pd.DataFrame, pd.Series, dict[str, Any]]:
    from psythemes.evaluate import align_gold, load_gold

    segs, _, _ = load_segments([DEMO / "transcripts"], metadata=DEMO / "metadata.csv")
    gold = load_gold(DEMO / "codes" / "reference.csv")
    gold = gold[gold["coder"] == "A"]
    aligned, _ = align_gold(gold, segs)
    per_seg = aligned.groupby("segment_id")["code"].agg(lambda c: sorted(set(c)))
    single = per_seg[per_seg.str.len() == 1].str[0]
    codes = segs["segment_id"].map(single)
    info = {"source": "corpora/psychosomatic-demo (all transcripts)", "gold": "coder A, reference.csv",
            "n_multi_coded_segments_left_out": int((per_seg.str.len() > 1).sum())}
    return segs, codes, info


def corpus_annomi(n_docs: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, dict[str, Any]]:
    from scoreboard import load_annomi

    segs, labels = load_annomi()
    segs = segs.assign(_gold=[f"therapist:{t}" if isinstance(t, str) else (f"client:{c}" if isinstance(c, str) else None)
                              for t, c in zip(labels["therapist"], labels["client"], strict=True)])
    segs = _sample_docs(segs, n_docs, seed)
    codes = segs.pop("_gold")
    return segs, codes, {"source": f"AnnoMI-simple.csv, {n_docs} of 133 transcripts (rng {seed})",
                         "gold": "main_therapist_behaviour / client_talk_type"}


def corpus_esconv(n_docs: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, dict[str, Any]]:
    from scoreboard import load_esconv

    segs, labels, _ = load_esconv()
    segs = segs.assign(_gold=labels)
    segs = _sample_docs(segs, n_docs, seed)
    codes = segs.pop("_gold")
    return segs, codes, {"source": f"ESConv train+valid+test, {n_docs} of 1,297 dialogues (rng {seed})",
                         "gold": "supporter strategy (seeker turns uncoded)"}


#: Corpora of this benchmark; AnnoMI and ESConv as samples of this many transcripts / dialogues.
SAMPLE_SIZES = {"demo": None, "annomi": 25, "esconv": 80}


def add_sample_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    """``--corpus`` (one of :data:`SAMPLE_SIZES`) and ``--sample-seed`` for an experiment's parser."""
    parser.add_argument("--corpus", choices=list(SAMPLE_SIZES), default=default)
    parser.add_argument("--sample-seed", type=int, default=0,
                        help="which transcripts AnnoMI's 25 / ESConv's 80 are (default 0: the benchmark's sample)")


def corpus_sample(name: str, sample_seed: int = 0,
                  n_docs: int | None = None) -> tuple[pd.DataFrame, pd.Series, dict[str, Any]]:
    """Corpus ``name`` of :data:`SAMPLE_SIZES` as the benchmark uses it (``sample_seed``: which sample;
    ``n_docs``: another sample size; the demo corpus is used whole).  The experiments in
    ``benchmarks/experiments/`` load theirs here."""
    if name == "demo":
        return corpus_demo()
    loader = {"annomi": corpus_annomi, "esconv": corpus_esconv}[name]
    return loader(SAMPLE_SIZES[name] if n_docs is None else n_docs, sample_seed)


# --------------------------------------------------------------------------------------------
# configurations


def _align(labels: np.ndarray, codes: pd.Series) -> dict[str, float]:
    mask = codes.notna().to_numpy()
    return alignment(np.asarray(labels)[mask], codes[mask].tolist())


def _stopword_share(keywords: list[list[str]]) -> float:
    """Share of keyword tokens that are English stop words or spoken fillers (psythemes' list)."""
    stop = set(discover.transcript_stop_words())
    tokens = [w for k in keywords for term in k for w in term.split()]
    return sum(w in stop for w in tokens) / len(tokens) if tokens else float("nan")


def _stability_all(runs: list[np.ndarray]) -> tuple[float, list[float]]:
    per_run = []
    for i, ref in enumerate(runs):
        st = theme_stability(ref, runs[:i] + runs[i + 1:])
        vals = [v for v in st.values() if not np.isnan(v)]
        per_run.append(float(np.mean(vals)) if vals else float("nan"))
    return float(np.nanmean(per_run)), per_run


def _summarise(runs: list[np.ndarray], reported: int, keywords: list[list[str]], docs_terms: list[list[str]],
               codes: pd.Series, seconds: float, extra: dict[str, Any]) -> dict[str, Any]:
    ref = runs[reported]
    st = theme_stability(ref, runs[:reported] + runs[reported + 1:])
    st_vals = [v for v in st.values() if not np.isnan(v)]
    all_mean, per_run = _stability_all(runs)
    npmi = npmi_coherence(keywords, docs_terms)
    aligned = [_align(r, codes) for r in runs]
    rep = aligned[reported]
    return {
        "n_themes": int(len(set(ref.tolist()) - {-1})),
        "outlier_share": round(float(np.mean(ref == -1)), 4),
        "stability": round(float(np.mean(st_vals)), 4) if st_vals else None,
        "n_unstable": int(sum(v < 0.5 for v in st_vals)),
        "stability_all_runs": round(all_mean, 4),
        "stability_per_run": [round(v, 4) for v in per_run],
        "coherence_npmi": round(npmi["mean"], 4),
        # NPMI needs two keywords: themes whose segments share fewer words are not in the mean
        "themes_scored": int(np.sum(~np.isnan(np.asarray(npmi["per_topic"], dtype=float)))),
        "keywords_per_theme": round(float(np.mean([len(k) for k in keywords])), 2) if keywords else None,
        "diversity": round(topic_diversity(keywords), 4),
        "stopword_share": round(_stopword_share(keywords), 4),
        "nmi": round(rep["nmi"], 4), "ari": round(rep["ari"], 4), "purity": round(rep["purity"], 4),
        "nmi_mean_seeds": round(float(np.mean([a["nmi"] for a in aligned])), 4),
        "nmi_per_seed": [round(a["nmi"], 4) for a in aligned],
        "ari_mean_seeds": round(float(np.mean([a["ari"] for a in aligned])), 4),
        "purity_mean_seeds": round(float(np.mean([a["purity"] for a in aligned])), 4),
        "n_coded_segments": rep["n"],
        "reported_seed": extra.pop("reported_seed"),
        "seconds": round(seconds, 1),
        "example_labels": extra.pop("labels")[:8],
        **extra,
    }


def run_bertopic_default(segs: pd.DataFrame, X: np.ndarray, codes: pd.Series, seeds: list[int]) -> dict[str, Any]:
    from bertopic import BERTopic
    from threadpoolctl import threadpool_limits
    from umap import UMAP

    texts = segs["text"].fillna("").astype(str).tolist()
    t0 = time.time()
    runs, models = [], []
    for seed in seeds:
        umap = MemoUMAP(UMAP(n_neighbors=min(15, len(texts) - 1), n_components=5, min_dist=0.0, metric="cosine",
                             random_state=seed, n_jobs=1, low_memory=False))
        model = BERTopic(umap_model=umap, verbose=False)
        with threadpool_limits(limits=1):
            topics, _ = model.fit_transform(texts, X.copy())
        runs.append(np.asarray(topics, dtype=int))
        models.append(model)
    model = models[0]
    ids = sorted(t for t in set(runs[0].tolist()) if t != -1)
    keywords = [[w for w, _ in model.get_topic(t)][:10] for t in ids]
    analyzer = model.vectorizer_model.build_analyzer()
    docs_terms = [analyzer(d) for d in model._preprocess_text(np.asarray(texts, dtype=object))]
    labels = [" · ".join(k[:3]) for k in keywords]
    return _summarise(runs, 0, keywords, docs_terms, codes, time.time() - t0,
                      {"reported_seed": seeds[0], "labels": labels})


def run_psythemes(segs: pd.DataFrame, X: np.ndarray, codes: pd.Series, seeds: list[int], emb: Embedder,
                  **params: Any) -> dict[str, Any]:
    t0 = time.time()
    disc = ThemeDiscoverer(embedder=emb, random_state=seeds[0], n_runs=len(seeds), by=(), **params).fit(segs, X)
    runs = [r["labels"] for r in disc._runs]
    reported = next(i for i, r in enumerate(disc._runs) if r.get("central"))
    runs[reported] = np.asarray(disc.labels_)  # the full fit (same partition as its light run)
    keywords = [k.split("; ") if k else [] for k in disc.themes_["keywords"]]
    analyzer = disc.topic_model_.vectorizer_model.build_analyzer()
    docs_terms = [analyzer(t) for t in segs["text"].fillna("").astype(str)]
    return _summarise(runs, reported, keywords, docs_terms, codes, time.time() - t0,
                      {"reported_seed": disc.random_state_, "labels": disc.themes_["label"].tolist(),
                       "names_removed": len(disc.names_), "preset_used": disc.preset_})


CONFIGS = {
    "bertopic_default": lambda s, X, c, seeds, emb: run_bertopic_default(s, X, c, seeds),
    "psythemes_default": lambda s, X, c, seeds, emb: run_psythemes(s, X, c, seeds, emb, preset="default"),
    "psythemes_default_ctfidf": lambda s, X, c, seeds, emb: run_psythemes(s, X, c, seeds, emb, preset="default",
                                                                          representation=None),
    "psythemes_default_reduce": lambda s, X, c, seeds, emb: run_psythemes(s, X, c, seeds, emb, preset="default",
                                                                          reduce_outliers=True),
    "psythemes_keybert_mmr": lambda s, X, c, seeds, emb: run_psythemes(
        s, X, c, seeds, emb, preset="default", representation=["pos", "keybert", "mmr"]),
    "psythemes_together": lambda s, X, c, seeds, emb: run_psythemes(s, X, c, seeds, emb, preset="default",
                                                                    representation=["pos", "together"]),
    "psythemes_fast": lambda s, X, c, seeds, emb: run_psythemes(s, X, c, seeds, emb, preset="fast"),
}
METRICS = ["n_themes", "outlier_share", "stability", "n_unstable", "stability_all_runs", "coherence_npmi",
           "themes_scored", "keywords_per_theme", "diversity",
           "stopword_share",
           "nmi", "ari", "purity", "nmi_mean_seeds", "seconds"]


def table_markdown(results: dict[str, Any]) -> str:
    lines = ["| corpus | configuration | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    for corpus, entry in results["corpora"].items():
        for name, res in entry["configs"].items():
            cells = [str(res.get(m, "")) for m in METRICS]
            lines.append(f"| {corpus} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=list(SAMPLE_SIZES))
    parser.add_argument("--configs", action="append", choices=list(CONFIGS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--annomi-docs", type=int, default=SAMPLE_SIZES["annomi"])
    parser.add_argument("--esconv-docs", type=int, default=SAMPLE_SIZES["esconv"])
    parser.add_argument("--out", default=str(RESULTS / "theme_quality.json"))
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error("--seeds must be at least 2: stability compares the runs of several seeds")
    warnings.simplefilter("ignore", PsythemesWarning)
    seeds = list(range(args.seeds))
    n_docs = {"annomi": args.annomi_docs, "esconv": args.esconv_docs}
    emb = Embedder(cache_dir=ROOT / ".psythemes-cache" / "embeddings")
    results: dict[str, Any] = {"command": "benchmarks/theme_quality.py " + " ".join(argv or sys.argv[1:]),
                               "seeds": seeds, "load_before": os.getloadavg(), "corpora": {}}
    t_all = time.time()
    for name in args.only or list(SAMPLE_SIZES):
        segs, codes, info = corpus_sample(name, n_docs=n_docs.get(name))
        t0 = time.time()
        X = emb.embed_segments(segs)
        info.update(n_segments=len(segs), n_docs=int(segs["doc_id"].nunique()),
                    n_coded=int(codes.notna().sum()), n_codes=int(codes.nunique()),
                    embed_seconds=round(time.time() - t0, 1), texts_embedded=int(emb.stats_.get("n_encoded", 0)))
        print(f"{name}: {info['n_segments']} segments, {info['n_docs']} documents, {info['n_coded']} coded "
              f"({info['n_codes']} codes); embedded {info['texts_embedded']} in {info['embed_seconds']} s", flush=True)
        entry = {"corpus": info, "configs": {}}
        for cname in args.configs or list(CONFIGS):
            res = CONFIGS[cname](segs, X, codes, seeds, emb)
            entry["configs"][cname] = res
            print(f"  {cname}: " + ", ".join(f"{m}={res[m]}" for m in METRICS), flush=True)
            print(f"    labels: {res['example_labels'][:5]}", flush=True)
        results["corpora"][name] = entry
    results["seconds"] = round(time.time() - t_all, 1)
    results["load_after"] = os.getloadavg()
    out = Path(args.out)
    write_json(out, results)
    write_text(out.with_suffix(".md"), table_markdown(results))
    print(table_markdown(results))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
