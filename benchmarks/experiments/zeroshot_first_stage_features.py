"""Issue #13: does the zero-shot first stage gain from features of each turn's last sentence?

The few-shot mapper (and so the second stage) gained from features of the last sentence of a turn
(docs/mapping.md, *Few-shot: the last sentence of a turn*).  The first stage's self-trained
classifier (``psythemes.selftrain``) sees the whole turn's embedding and surface cues only.  This
script swaps its feature function for

- ``+last surface``: also the surface cues of the last sentence and log(1 + sentences);
- ``+last emb+surface``: also the last sentence's embedding,

and prints kappa and macro-F1 of the first stage alone (``refine=None``) and of the shipped
two-stage mapper, on the scoreboard's seed-0 split: "dev" (20 % of transcripts, where zero-shot
settings are chosen) and "test" (the other 80 %).  No label is read before scoring.

Usage (from the repository root; about 20 minutes for the three corpora on 2 cores)::

    PYTHONPATH=src .venv/bin/python benchmarks/experiments/zeroshot_first_stage_features.py \
        --corpus annomi_therapist --corpus annomi_client --corpus esconv
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import scoreboard as sb  # noqa: E402

import psythemes.selftrain as selftrain  # noqa: E402
from psythemes.mapping import ZeroShotMapper, agreement_scores, grouped_splits, surface_features  # noqa: E402
from psythemes.mapping._common import encode  # noqa: E402
from psythemes.mapping.features import sentence_ends  # noqa: E402

SHIPPED = selftrain._features


def variants(embedder: object) -> dict[str, Callable[[np.ndarray, Sequence[str]], np.ndarray]]:
    """Feature functions of the first stage's classifier, by name."""

    def last_surface(emb: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        _, last, n = sentence_ends(list(texts))
        return np.hstack([SHIPPED(emb, texts), surface_features(last), np.log1p(n)[:, None]]).astype(np.float64)

    def last_embedding(emb: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        _, last, n = sentence_ends(list(texts))
        vecs = emb.copy()
        longer = np.flatnonzero(n > 1)
        if len(longer):
            vecs[longer] = encode(embedder, [last[i] for i in longer])
        return np.hstack([SHIPPED(emb, texts), vecs, surface_features(last),
                          np.log1p(n)[:, None]]).astype(np.float64)

    return {"shipped": SHIPPED, "+last surface": last_surface, "+last emb+surface": last_embedding}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", choices=["annomi_therapist", "annomi_client", "esconv"])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for corpus in args.corpus or ["annomi_therapist"]:
        cb, segs, gold, all_segs, emb, _ = sb.plain_task(corpus, esconv_test_only=corpus == "esconv")
        dev, test = grouped_splits(segs["doc_id"].to_numpy(), 0.2, n_splits=1, random_state=0)[0]
        for name, features in variants(emb).items():
            selftrain._features = features
            started = time.time()
            line = f"{corpus} {name:<18}"
            try:
                for stage, refine in (("first", None), ("second", 0.3)):
                    mapper = ZeroShotMapper(cb, embedder=emb, single_label=True, refine=refine)
                    pred = mapper.fit(segs, all_segments=all_segs).predict_single(segs, all_segments=all_segs)
                    for part, rows in (("dev", dev), ("test", test)):
                        r = agreement_scores([gold[i] for i in rows], [pred[i] for i in rows])
                        line += f" | {stage} {part} kappa {r['kappa']:.3f} F1 {r['macro_f1']:.3f}"
            finally:
                selftrain._features = SHIPPED
            print(f"{line} ({time.time() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
