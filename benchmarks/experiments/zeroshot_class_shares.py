"""Issue #13: does the single-label zero-shot mapper give the classes the wrong shares, and does holding them help?

The corpus calibration (z-scores per code) and the self-training spread the classes more evenly than
human coders do: on AnnoMI client talk the gold gives Sustain 11 % of the utterances, the nearest
definition 27 %, the first stage 39 % and the second stage 48 %.  This script prints each class's
share and the agreement of

- ``first``: ``ZeroShotMapper(single_label=True, refine=None)``;
- ``second``: the shipped mapper (second stage on);
- ``second@first``: the second stage's probabilities with one offset per class (on the log scale)
  chosen so that its shares on the corpus equal the first stage's (the second stage re-ranks,
  the shares stay);
- ``second@naive``: the same, held to the shares of the nearest definition.

No label is read before scoring; dev = the seed-0 20 % of transcripts, test = the other 80 %.

Usage (from the repository root)::

    PYTHONPATH=src .venv/bin/python benchmarks/experiments/zeroshot_class_shares.py \
        --corpus annomi_therapist --corpus annomi_client --corpus esconv
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import scoreboard as sb  # noqa: E402

from psythemes.mapping import ZeroShotMapper, agreement_scores, grouped_splits  # noqa: E402


def held_shares(log_proba: np.ndarray, target: np.ndarray, iterations: int = 200) -> np.ndarray:
    """Per-class offsets that make ``argmax(log_proba + offsets)`` give about the ``target`` shares."""
    offsets = np.zeros(log_proba.shape[1])
    for _ in range(iterations):
        shares = np.bincount((log_proba + offsets).argmax(axis=1), minlength=log_proba.shape[1]) / len(log_proba)
        offsets += 0.5 * (np.log(target + 1e-6) - np.log(shares + 1e-6))
    return offsets


def shares(pred: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Share of the segments given each code."""
    return np.array([(pred == c).mean() for c in codes])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", choices=["annomi_therapist", "annomi_client", "esconv"])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for corpus in args.corpus or ["annomi_client"]:
        cb, segs, gold, all_segs, emb, _ = sb.plain_task(corpus, esconv_test_only=corpus == "esconv")
        dev, test = grouped_splits(segs["doc_id"].to_numpy(), 0.2, n_splits=1, random_state=0)[0]
        shipped = ZeroShotMapper(cb, embedder=emb, single_label=True).fit(segs, all_segments=all_segs)
        codes = np.array(shipped.codes_, dtype=object)
        first = np.array(ZeroShotMapper(cb, embedder=emb, single_label=True, refine=None).fit(segs)
                         .predict_single(segs), dtype=object)
        naive = np.array(ZeroShotMapper(cb, embedder=emb, use_examples=False, threshold=-1.0, self_training=False)
                         .fit().predict_single(segs), dtype=object)
        log_proba = np.log(np.clip(shipped.decision_function(segs, all_segs).to_numpy(), 1e-9, None))
        rows = {"gold": np.array(gold, dtype=object), "naive": naive, "first": first,
                "second": codes[log_proba.argmax(axis=1)],
                "second@first": codes[(log_proba + held_shares(log_proba, shares(first, codes))).argmax(axis=1)],
                "second@naive": codes[(log_proba + held_shares(log_proba, shares(naive, codes))).argmax(axis=1)]}
        print(f"{corpus}: shares in the order {', '.join(codes)}")
        for name, pred in rows.items():
            line = f"  {name:<13} shares {' '.join(f'{s:.2f}' for s in shares(pred, codes))}"
            if name != "gold":
                for part, idx in (("dev", dev), ("test", test)):
                    r = agreement_scores([gold[i] for i in idx], list(pred[idx]))
                    line += f" | {part} kappa {r['kappa']:.3f} alpha {r['alpha']:.3f} F1 {r['macro_f1']:.3f}"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
