"""Code-mapping benchmark on the SYNTHETIC psychosomatic-demo corpus.

Usage (from the repository root)::

    .venv/bin/python benchmarks/demo_mapping.py                        # writes benchmarks/results/demo_mapping.json
    .venv/bin/python benchmarks/demo_mapping.py --save-model models/psychosomatic-demo-fewshot
    .venv/bin/python benchmarks/demo_mapping.py --units turn --seeds 2  # quicker look

What is measured (participants only: interviewer turns and backchannels are dropped, as
``psythemes extract`` does; units = turns and = sentences):

1. ``zero_shot_auto``: :class:`~psythemes.mapping.ZeroShotMapper` exactly as ``extract`` runs it
   (shipped codebook, ``threshold="auto"`` calibrated on the codebook alone), against coder A on
   all 64 transcripts, and against A and B on the 12 double-coded ones.
2. ``zero_shot_global`` / ``zero_shot_per_code``: the same scores with one global threshold, or one
   threshold per code, chosen to maximise kappa on a random 20 % of the transcripts ("dev") and
   scored on the other 80 %: does abstention explain the low agreement?  Plus
   ``zero_shot_ceiling`` (per-code thresholds chosen on all 64 transcripts and scored on them:
   optimistic) and the ROC AUC of each code's zero-shot scores against coder A (ranking quality,
   whatever the threshold).
3. ``few_shot_20`` / ``few_shot_50``: :class:`~psythemes.mapping.FewShotMapper` (multi-label, coder-A
   labels) trained on 20 % / 50 % of the transcripts, scored on the rest.
4. ``few_shot_B_docs``: trained on the 52 transcripts coded by A only, scored on the 12
   double-coded transcripts against A and against B: directly comparable with A-vs-B.

Every split is by transcript (``grouped_splits``: GroupShuffleSplit on ``doc_id``, seeds 0..n-1):
no transcript is on both sides.  Agreement is per code, presence/absence per segment (Cohen's
kappa, F1 of "present"); a gold span codes a segment by the overlap rule of
:func:`psythemes.evaluate.align_gold` (via :func:`psythemes.mapping.labels_from_gold`).
``mean_kappa`` and ``macro_f1`` average the four codes.

Coder A wrote the transcripts (AI writing sessions) and coded them; coder B is an independent
AI session on 12 transcripts.  Nothing here is evidence about real interviews.

Embeddings come from :class:`psythemes.embed.Embedder` with its default on-disk cache
(``./.psythemes-cache/embeddings`` or ``$PSYTHEMES_CACHE``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from psythemes.codebook import load_codebook  # noqa: E402
from psythemes.embed import Embedder  # noqa: E402
from psythemes.evaluate import load_gold  # noqa: E402
from psythemes.io import read_transcripts  # noqa: E402
from psythemes.mapping import (  # noqa: E402
    FewShotMapper,
    ZeroShotMapper,
    grouped_cross_validate,
    grouped_splits,
    labels_from_gold,
)
from psythemes.outputs import write_json  # noqa: E402
from psythemes.schema import CODE_COLUMNS, GOLD_COLUMNS, SEGMENT_COLUMNS  # noqa: E402
from psythemes.segment import segment_transcripts  # noqa: E402

CORPUS = ROOT / "corpora" / "psychosomatic-demo"
RESULTS = ROOT / "benchmarks" / "results"

_DOC, _SEG = SEGMENT_COLUMNS[0], SEGMENT_COLUMNS[1]
_CODE = CODE_COLUMNS[4]
_CODER = GOLD_COLUMNS[4]
REFERENCE, SECOND = "A", "B"
DEV_FRACTION = 0.2
TRAIN_FRACTIONS = (0.2, 0.5)


class MemoEmbedder:
    """The default :class:`~psythemes.embed.Embedder` (disk cache) plus an in-memory memo.

    The mappers re-encode the same texts many times across splits; the memo avoids re-reading
    the disk cache each time.  Vectors are exactly the Embedder's.
    """

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder if embedder is not None else Embedder()
        self._memo: dict[str, np.ndarray] = {}

    @property
    def backend_(self) -> str:
        """The Embedder's backend (recorded in a saved model)."""
        return self.embedder.backend_

    def encode(self, texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if todo:
            for t, v in zip(todo, self.embedder.encode(todo), strict=True):
                self._memo[t] = np.asarray(v, dtype=np.float32)
        return np.vstack([self._memo[t] for t in texts])


# ------------------------------------------------------------------------------- scoring


def _kappa(g: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import cohen_kappa_score

    if len(set(g.tolist()) | set(p.tolist())) < 2:
        return float("nan")  # a code nobody used on these segments: undefined
    return float(cohen_kappa_score(g, p))


def score_sets(gold: list[set[str]], pred: list[set[str]], codes: list[str]) -> dict[str, Any]:
    """Per-code presence/absence agreement between two lists of code sets (same segments)."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    per_code = {}
    for c in codes:
        g = np.array([c in s for s in gold])
        p = np.array([c in s for s in pred])
        per_code[c] = {
            "kappa": _kappa(g, p),
            "f1": float(f1_score(g, p, zero_division=0)),
            "precision": float(precision_score(g, p, zero_division=0)),
            "recall": float(recall_score(g, p, zero_division=0)),
            "prevalence": float(g.mean()) if len(g) else float("nan"),
            "machine_rate": float(p.mean()) if len(p) else float("nan"),
        }
    return {
        "n_segments": len(gold),
        "mean_kappa": float(np.nanmean([v["kappa"] for v in per_code.values()])),
        "macro_f1": float(np.mean([v["f1"] for v in per_code.values()])),
        "per_code": per_code,
    }


def pred_sets(codes_table: pd.DataFrame, seg_ids: list[str]) -> list[set[str]]:
    """The codes of each segment of ``seg_ids`` in a codes table (an empty set for segments without one)."""
    by_seg: dict[str, set[str]] = {}
    for seg, code in zip(codes_table[_SEG], codes_table[_CODE], strict=True):
        by_seg.setdefault(seg, set()).add(code)
    return [by_seg.get(s, set()) for s in seg_ids]


def _matrix_sets(scores: np.ndarray, thr: np.ndarray, codes: list[str]) -> list[set[str]]:
    ok = scores >= thr[None, :]
    return [{codes[j] for j in np.flatnonzero(row)} for row in ok]


def _summarise(runs: list[dict[str, Any]], codes: list[str]) -> dict[str, Any]:
    """Mean and sd (ddof=1) across splits of the headline and per-code figures."""
    def ms(vals: list[float]) -> dict[str, float]:
        a = np.array(vals, dtype=float)
        return {"mean": round(float(np.nanmean(a)), 4), "sd": round(float(np.nanstd(a, ddof=1)) if len(a) > 1 else 0.0, 4)}

    out = {"n_splits": len(runs), "mean_kappa": ms([r["mean_kappa"] for r in runs]),
           "macro_f1": ms([r["macro_f1"] for r in runs]), "per_code": {}}
    for c in codes:
        out["per_code"][c] = {k: ms([r["per_code"][c][k] for r in runs])
                              for k in ("kappa", "f1", "prevalence", "machine_rate")}
    return out


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 4)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


# ------------------------------------------------------------------------------- thresholds


def best_threshold(scores: np.ndarray, gold: np.ndarray, n_grid: int = 200) -> float:
    """Threshold on one score column that maximises kappa against a 0/1 gold column."""
    grid = np.unique(np.quantile(scores, np.linspace(0.0, 0.995, n_grid)))
    ks = [_kappa(gold, scores >= t) for t in grid]
    ks = np.nan_to_num(np.array(ks), nan=-1.0)
    return float(grid[int(np.argmax(ks))])


def best_global_threshold(scores: np.ndarray, gold: np.ndarray, n_grid: int = 200) -> float:
    """One threshold for every code (columns of ``scores``) maximising the mean per-code kappa."""
    grid = np.unique(np.quantile(scores, np.linspace(0.0, 0.995, n_grid)))
    best, best_k = float(grid[0]), -np.inf
    for t in grid:
        k = np.nanmean([_kappa(gold[:, j], scores[:, j] >= t) for j in range(scores.shape[1])])
        if np.isfinite(k) and k > best_k:
            best, best_k = float(t), float(k)
    return best


# ------------------------------------------------------------------------------- one unit


def run_unit(unit: str, transcripts: list[Any], gold: pd.DataFrame, codebook: Any, embedder: Any,
             seeds: list[int], few_shot: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    codes = list(codebook.names)
    segs = segment_transcripts(transcripts, unit=unit, interviewer="drop", backchannels="drop").reset_index(drop=True)
    seg_ids = segs[_SEG].tolist()
    docs = segs[_DOC].astype(str).to_numpy()
    gold_a = gold[gold[_CODER] == REFERENCE]
    gold_b = gold[gold[_CODER] == SECOND]
    b_docs = sorted(set(gold_b[_DOC].astype(str)))
    y_a = [set(v) for v in labels_from_gold(segs, gold_a)]
    y_b = [set(v) for v in labels_from_gold(segs, gold_b)]
    in_b = np.isin(docs, b_docs)
    ib = np.flatnonzero(in_b)
    gold_mat = np.array([[c in s for c in codes] for s in y_a])

    out: dict[str, Any] = {"unit": unit, "n_segments": len(segs), "n_docs": int(len(set(docs))),
                           "n_double_coded_docs": len(b_docs), "n_segments_double_coded": int(in_b.sum())}
    # human baseline: B against A on the double-coded transcripts
    out["human_A_vs_B"] = score_sets([y_a[i] for i in ib], [y_b[i] for i in ib], codes)

    # 1. zero-shot as `psythemes extract` runs it
    zs = ZeroShotMapper(codebook, embedder=embedder).fit()
    scores = zs.decision_function(segs).to_numpy()
    pred = pred_sets(zs.predict(segs), seg_ids)
    auto = np.array([zs.thresholds_[c] for c in codes])
    out["zero_shot_auto"] = {
        "thresholds": dict(zip(codes, auto.round(4).tolist(), strict=True)),
        "vs_A_all_docs": score_sets(y_a, pred, codes),
        "vs_A_double_coded": score_sets([y_a[i] for i in ib], [pred[i] for i in ib], codes),
        "vs_B_double_coded": score_sets([y_b[i] for i in ib], [pred[i] for i in ib], codes),
        # how well the scores rank coded above uncoded segments, whatever the threshold
        "roc_auc_vs_A": {c: round(float(roc_auc_score(gold_mat[:, j], scores[:, j])), 4) for j, c in enumerate(codes)},
    }
    # an optimistic ceiling: per-code thresholds chosen on all transcripts and scored on them
    oracle = np.array([best_threshold(scores[:, j], gold_mat[:, j]) for j in range(len(codes))])
    out["zero_shot_ceiling"] = {**score_sets(y_a, _matrix_sets(scores, oracle, codes), codes),
                                "thresholds": dict(zip(codes, oracle.round(4).tolist(), strict=True))}

    # 2. thresholds chosen on 20 % of the transcripts, scored on the rest; plus auto on the same test docs
    runs: dict[str, list[dict[str, Any]]] = {"zero_shot_auto_test": [], "zero_shot_global": [], "zero_shot_per_code": []}
    chosen: dict[str, list[Any]] = {"global": [], "per_code": []}
    for seed in seeds:
        dev, test = grouped_splits(docs, DEV_FRACTION, n_splits=1, random_state=seed)[0]
        g_thr = best_global_threshold(scores[dev], gold_mat[dev])
        pc_thr = np.array([best_threshold(scores[dev, j], gold_mat[dev, j]) for j in range(len(codes))])
        chosen["global"].append(round(g_thr, 4))
        chosen["per_code"].append(dict(zip(codes, pc_thr.round(4).tolist(), strict=True)))
        y_test = [y_a[i] for i in test]
        runs["zero_shot_auto_test"].append(score_sets(y_test, [pred[i] for i in test], codes))
        runs["zero_shot_global"].append(score_sets(y_test, _matrix_sets(scores[test], np.full(len(codes), g_thr), codes), codes))
        runs["zero_shot_per_code"].append(score_sets(y_test, _matrix_sets(scores[test], pc_thr, codes), codes))
    for name, r in runs.items():
        out[name] = _summarise(r, codes)
    out["zero_shot_global"]["thresholds"] = chosen["global"]
    out["zero_shot_per_code"]["thresholds"] = chosen["per_code"]

    # 3. few-shot learning curve (coder-A labels), and 4. train off the double-coded docs
    if few_shot:
        def factory() -> FewShotMapper:
            return FewShotMapper(codebook, embedder=embedder, random_state=0)

        y_lists = [sorted(s) for s in y_a]
        for frac in TRAIN_FRACTIONS:
            key = f"few_shot_{int(frac * 100)}"
            r = []
            for seed in seeds:
                tr, te = grouped_splits(docs, frac, n_splits=1, random_state=seed)[0]
                model = factory().fit(segs.iloc[tr], [y_lists[i] for i in tr])
                p = pred_sets(model.predict(segs.iloc[te]), [seg_ids[i] for i in te])
                r.append(score_sets([y_a[i] for i in te], p, codes))
            out[key] = _summarise(r, codes)
            out[key]["train_fraction"] = frac
        tr = np.flatnonzero(~in_b)
        model = factory().fit(segs.iloc[tr], [y_lists[i] for i in tr])
        p = pred_sets(model.predict(segs.iloc[ib]), [seg_ids[i] for i in ib])
        out["few_shot_B_docs"] = {
            "train_docs": int(len(set(docs[tr]))),
            "vs_A": score_sets([y_a[i] for i in ib], p, codes),
            "vs_B": score_sets([y_b[i] for i in ib], p, codes),
        }
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


# ------------------------------------------------------------------------------- table


def _fmt(d: dict[str, Any], key: str) -> str:
    v = d[key]
    return f"{v['mean']:.3f} ± {v['sd']:.3f}" if isinstance(v, dict) else f"{v:.3f}"


def table(results: dict[str, Any]) -> str:
    codes = results["codes"]
    head = ["unit", "method", "scored on", "mean κ", "macro-F1", *[f"κ {c}" for c in codes]]
    rows = []
    for unit, r in results["units"].items():
        def add(method: str, where: str, d: dict[str, Any]) -> None:
            per = [(_fmt(d["per_code"][c], "kappa")) for c in codes]
            # add() is called within this iteration only, so the loop variable is the current one
            rows.append([unit, method, where, _fmt(d, "mean_kappa"), _fmt(d, "macro_f1"), *per])  # noqa: B023

        add("human: coder B vs coder A", "12 double-coded docs", r["human_A_vs_B"])
        zs = r["zero_shot_auto"]
        add("zero-shot, auto thresholds (as shipped)", "64 docs vs A", zs["vs_A_all_docs"])
        add("zero-shot, auto thresholds (as shipped)", "12 docs vs A", zs["vs_A_double_coded"])
        add("zero-shot, auto thresholds (as shipped)", "12 docs vs B", zs["vs_B_double_coded"])
        add("zero-shot, auto thresholds", "80 % test docs vs A", r["zero_shot_auto_test"])
        add("zero-shot, one global threshold (20 % dev)", "80 % test docs vs A", r["zero_shot_global"])
        add("zero-shot, per-code thresholds (20 % dev)", "80 % test docs vs A", r["zero_shot_per_code"])
        add("zero-shot, per-code thresholds chosen on all docs (ceiling)", "64 docs vs A", r["zero_shot_ceiling"])
        for frac in TRAIN_FRACTIONS:
            key = f"few_shot_{int(frac * 100)}"
            if key in r:
                add(f"few-shot, {int(frac * 100)} % of docs (A labels)", f"{100 - int(frac * 100)} % test docs vs A", r[key])
        if "few_shot_B_docs" in r:
            fb = r["few_shot_B_docs"]
            add(f"few-shot, {fb['train_docs']} A-only docs", "12 docs vs A", fb["vs_A"])
            add(f"few-shot, {fb['train_docs']} A-only docs", "12 docs vs B", fb["vs_B"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def rates_table(results: dict[str, Any]) -> str:
    """Machine rate vs prevalence (coder A) per code: how much each method abstains."""
    codes = results["codes"]
    head = ["unit", "method", *[f"{c} rate / prev." for c in codes]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for unit, r in results["units"].items():
        items = [("zero-shot auto (64 docs)", r["zero_shot_auto"]["vs_A_all_docs"]),
                 ("zero-shot global thr.", r["zero_shot_global"]), ("zero-shot per-code thr.", r["zero_shot_per_code"])]
        items += [(f"few-shot {int(f * 100)} %", r[f"few_shot_{int(f * 100)}"]) for f in TRAIN_FRACTIONS if f"few_shot_{int(f * 100)}" in r]
        for name, d in items:
            cells = []
            for c in codes:
                pc = d["per_code"][c]
                rate = pc["machine_rate"]["mean"] if isinstance(pc["machine_rate"], dict) else pc["machine_rate"]
                prev = pc["prevalence"]["mean"] if isinstance(pc["prevalence"], dict) else pc["prevalence"]
                cells.append(f"{rate:.3f} / {prev:.3f}")
            lines.append("| " + " | ".join([unit, name, *cells]) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------- model


MODEL_NOTES = """\
**Trained on a SYNTHETIC corpus.** `corpora/psychosomatic-demo` is invented: every transcript was
written by AI writing sessions, and the training labels are those of coder A, i.e. the same AI
sessions that wrote the transcripts and knew what each passage was written to express. The labels
are therefore cleaner and more self-consistent than human codes of real interviews would be.

Units: participant turns (interviewer turns and backchannels dropped, as `psythemes extract`
does), multi-label (one-vs-rest logistic regression; a probability threshold per code, chosen in
the grouped cross-validation inside the training data, listed above).
Metrics above: 5-fold cross-validation grouped by transcript (GroupKFold on doc_id) on the same
corpus; `macro_f1` there averages F1 of "present" and "absent" per code. The benchmark
`benchmarks/demo_mapping.py` (results in `benchmarks/results/demo_mapping.json`, summary in
`docs/mapping.md`, section "Demo corpus") compares with the coder A-B agreement.

**Not for real data without retraining** on transcripts coded by the study's own coders. Use it
to try `psythemes extract --method few-shot --model models/psychosomatic-demo-fewshot` on the demo
corpus, or as a template. Predictions are suggestions for a human coder to review.
"""


def save_model(directory: Path, transcripts: list[Any], gold: pd.DataFrame, codebook: Any, embedder: Any) -> dict[str, Any]:
    segs = segment_transcripts(transcripts, unit="turn", interviewer="drop", backchannels="drop").reset_index(drop=True)
    y = labels_from_gold(segs, gold[gold[_CODER] == REFERENCE])
    cv = grouped_cross_validate(lambda: FewShotMapper(codebook, embedder=embedder, random_state=0), segs, y, n_splits=5)
    model = FewShotMapper(codebook, embedder=embedder, random_state=0).fit(segs, y)
    metrics = {k: v for k, v in cv.items() if k != "folds"}
    metrics["per_fold_kappa"] = [round(f["kappa"], 4) for f in cv["folds"]]
    training = (f"SYNTHETIC corpus corpora/psychosomatic-demo: {segs[_DOC].nunique()} transcripts, {len(segs)} participant "
                f"turns, coder-A reference codes (coder A = the AI sessions that wrote the transcripts)")
    model.save(directory, training_data=training, metrics=metrics, notes=MODEL_NOTES)
    size = sum(p.stat().st_size for p in Path(directory).iterdir() if p.is_file())
    return {"directory": str(directory), "bytes": size, "cv": metrics}


# ------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", nargs="+", default=["turn", "sentence"], choices=["turn", "sentence"])
    ap.add_argument("--seeds", type=int, default=5, help="number of seeded grouped splits (seeds 0..n-1)")
    ap.add_argument("--no-few-shot", action="store_true")
    ap.add_argument("--save-model", type=Path, default=None, help="also train on all coder-A labels (turns) and save here")
    ap.add_argument("--out", type=Path, default=RESULTS / "demo_mapping.json")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    transcripts = read_transcripts(CORPUS / "transcripts", metadata=CORPUS / "metadata.csv")
    codebook = load_codebook("psychosomatic")
    gold = load_gold(CORPUS / "codes" / "reference.csv", codes=codebook.names)
    embedder = MemoEmbedder()
    seeds = list(range(args.seeds))
    results: dict[str, Any] = {
        "corpus": "corpora/psychosomatic-demo (SYNTHETIC)",
        "reference": "coder A (the transcripts' AI writers) on 64 transcripts; coder B (independent AI session) on 12",
        "codes": list(codebook.names),
        "segmentation": "participants only (interviewer turns and backchannels dropped)",
        "splits": f"grouped by doc_id (GroupShuffleSplit), seeds {seeds}; dev fraction {DEV_FRACTION} for thresholds",
        "metrics": "per code presence/absence per segment: Cohen's kappa, F1 of 'present'; mean_kappa and macro_f1 average the codes",
        "command": "python benchmarks/demo_mapping.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "units": {},
    }
    for unit in args.units:
        results["units"][unit] = run_unit(unit, transcripts, gold, codebook, embedder, seeds, not args.no_few_shot)
        print(f"[{unit}] done in {results['units'][unit]['seconds']} s", file=sys.stderr)
    if args.save_model is not None:
        results["model"] = save_model(args.save_model, transcripts, gold, codebook, embedder)
    results["seconds"] = round(time.perf_counter() - t0, 1)
    write_json(args.out, _rounded(results))
    print(table(results))
    print()
    print(rates_table(results))
    for unit, r in results["units"].items():
        auc = ", ".join(f"{c} {v:.2f}" for c, v in r["zero_shot_auto"]["roc_auc_vs_A"].items())
        print(f"\n[{unit}] zero-shot ROC AUC vs coder A: {auc}")
    if "model" in results:
        m = results["model"]
        print(f"\nmodel: {m['directory']} ({m['bytes'] / 1e6:.2f} MB); grouped 5-fold CV kappa "
              f"{m['cv']['kappa_mean']:.3f} ± {m['cv']['kappa_sd']:.3f}")
    print(f"\n{results['seconds']:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
