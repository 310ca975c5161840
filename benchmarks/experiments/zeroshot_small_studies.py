"""Issue #13: zero-shot on small studies. Random subsets of 3, 6, 12 and 24 transcripts of a plain
codebook row (3 subsets each, rng 0), single-label zero-shot with self-training (the default) and
without (``self_training=False``): mean kappa and the share of the most frequent code.

Usage (from the repository root; the corpora come from ../shared)::

    PYTHONPATH=src .venv/bin/python benchmarks/experiments/zeroshot_small_studies.py annomi_therapist
    PYTHONPATH=src .venv/bin/python benchmarks/experiments/zeroshot_small_studies.py annomi_client
    PYTHONPATH=src .venv/bin/python benchmarks/experiments/zeroshot_small_studies.py esconv
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import scoreboard as sb  # noqa: E402

from psythemes.mapping import ZeroShotMapper, agreement_scores  # noqa: E402


def main() -> int:
    warnings.simplefilter("ignore")
    corpus = sys.argv[1] if len(sys.argv) > 1 else "annomi_therapist"
    cb, segs, gold, all_segs, emb, _role = sb.plain_task(corpus, esconv_test_only=corpus == "esconv")
    docs = np.array(sorted(set(segs["doc_id"])))
    rng = np.random.default_rng(0)
    for n_docs in (3, 6, 12, 24):
        for rep in range(3):
            pick = set(rng.choice(docs, size=min(n_docs, len(docs)), replace=False))
            rows = np.flatnonzero(segs["doc_id"].isin(pick).to_numpy())
            sub, subgold = segs.iloc[rows].reset_index(drop=True), [gold[i] for i in rows]
            suball = all_segs[all_segs["doc_id"].isin(pick)].reset_index(drop=True)
            out = []
            for name, kw in (("default", {}), ("no-self", {"self_training": False})):
                mapper = ZeroShotMapper(cb, embedder=emb, single_label=True, **kw).fit(sub, all_segments=suball)
                pred = mapper.predict_single(sub, all_segments=suball)
                kappa = agreement_scores(subgold, pred)["kappa"]
                top = max(pred.count(c) for c in set(pred)) / len(pred)
                out.append(f"{name} k={kappa:.3f} top={top:.2f}")
            print(f"{corpus} docs={n_docs:>2} rep={rep} n={len(rows):>4}: " + " | ".join(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
