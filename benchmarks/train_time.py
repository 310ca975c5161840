"""Time to train a few-shot mapper on a large multi-label codebook (what ``psythemes train`` fits).

The study is SYNTHETIC: 24 type 2 diabetes interviews with a 58-code, three-level codebook (50
codable codes) and a coder's quote table, written by ``benchmarks/experiments/diabetes_study/gen.py``
for a stranger test (see its docstring).  The mapper is trained on the coder's codes of P01-P10 (461
participant turns, multi-label: 165 with several codes), as ``psythemes train --cv 0`` does: the
grouped cross-validation that chooses ``C`` and each code's threshold (5 values of C x 5 folds x one
model per code) and the final fit.  Variants: the shipped one (one BLAS thread per fit), the same
in 2 processes (``n_jobs=2``, ``--jobs 2``), and, with ``--threads-too``, the fits left to
OpenBLAS's default threads (as before 2026-12-08).  Each variant's thresholds and weights are
compared with the first one's.  Run::

    .venv/bin/python benchmarks/train_time.py --threads-too   # writes benchmarks/results/train_time.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from psythemes.codebook import load_codebook
from psythemes.jobs import _few_shot_training, segment_files
from psythemes.mapping import FewShotMapper
from psythemes.mapping import fewshot as fewshot_module
from psythemes.tables import gold_texts, read_gold, read_segments

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "benchmarks" / "experiments" / "diabetes_study" / "gen.py"
TRAIN_DOCS = [f"P{i:02d}" for i in range(1, 11)]


def build(folder: Path) -> tuple:
    """The study written into ``folder``, segmented; the training segments, labels and codebook."""
    subprocess.run([sys.executable, str(STUDY), str(folder)], check=True, capture_output=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what reading guessed is the stranger test's business, not this one's
        segment_files([folder / "transcripts"], folder / "seg", metadata=folder / "metadata.csv",
                      speaker_roles="Amina Khan=interviewer,Tom Reid=interviewer")
        segments = read_segments(folder / "seg" / "segments.csv")
        book = load_codebook(folder / "codebook" / "nvivo_codebook.csv")
        gold = read_gold(folder / "gold" / "coderA_maxqda_coded_segments.xlsx", codes=book,
                         texts=gold_texts(segments))
        spans = folder / "gold_train.csv"
        gold[gold["doc_id"].isin(TRAIN_DOCS)].to_csv(spans, index=False)
        train, y, scheme = _few_shot_training(book, segments, spans, None)
    return book, segments, train, y, scheme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads-too", action="store_true", help="also time the fits with OpenBLAS's own threads")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_time.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        book, segments, train, y, scheme = build(Path(tmp))
        print(f"{len(train)} training segments from {train['doc_id'].nunique()} documents; {scheme['message']}; "
              f"{len(book.codable_names)} codable codes", flush=True)
        variants = [("one BLAS thread per fit (shipped)", None, fewshot_module._logistic_weights),
                    ("the same, n_jobs=2", 2, fewshot_module._logistic_weights)]
        if args.threads_too:
            variants.append(("OpenBLAS's default threads (before)", None, fewshot_module._logistic_fits))
        results, first = [], None
        shipped = fewshot_module._logistic_weights
        for name, n_jobs, fits in variants:
            fewshot_module._logistic_weights = fits
            try:
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = FewShotMapper(book, single_label=scheme["single_label"], roles=scheme["roles"],
                                          n_jobs=n_jobs).fit(train, y, all_segments=segments)
                seconds = time.perf_counter() - t0
            finally:
                fewshot_module._logistic_weights = shipped
            first = first or model
            row = {"variant": name, "n_jobs": n_jobs, "seconds": round(seconds, 1), "C": model.C_,
                   "same_thresholds_as_first": model.thresholds_ == first.thresholds_,
                   "max_abs_weight_difference_to_first": float(np.abs(model.coef_ - first.coef_).max())}
            results.append(row)
            print(f"  {name:<40} {seconds:7.1f} s  C {model.C_}  same thresholds {row['same_thresholds_as_first']}  "
                  f"max |weight difference| {row['max_abs_weight_difference_to_first']:.1e}", flush=True)
    Path(args.out).write_text(json.dumps({"n_train_segments": len(train), "n_codes": len(book.codable_names),
                                          "results": results}, indent=2) + "\n")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
