"""Speed of zero-shot mapping with a large codebook: 165 codes, 10,000 segments.

The codebook is SYNTHETIC: the 15 labels of the plain AnnoMI (therapist behaviour, client talk) and
ESConv codebooks (benchmarks/codebooks/plain/), each with 10 invented sub-codes (the label applied
to one of 10 invented topics), written as a plain ``name,description,parent`` CSV with no
examples, so every code goes through the corpus calibration and self-training
(psythemes.selftrain).  The segments are AnnoMI's 9,699 utterances and the first 301 again under other document ids.  It measures speed
only: the sub-codes have no gold labels.

Embeddings of the utterances are computed once and cached (as in scoreboard.py); the timed part
is what ``psythemes map`` does after embedding: prototypes, corpus calibration, self-training and
prediction.  Run::

    .venv/bin/python benchmarks/big_codebook.py            # writes benchmarks/results/big_codebook.json
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scoreboard as sb  # noqa: E402

from psythemes.codebook import load_codebook  # noqa: E402
from psythemes.mapping import ZeroShotMapper  # noqa: E402
from psythemes.schema import make_segment_id  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CODEBOOK = ROOT / "benchmarks" / "codebooks" / "synthetic_165.csv"
TOPICS = {
    "alcohol": "drinking alcohol, beer, wine or spirits",
    "smoking": "smoking cigarettes, vaping or tobacco",
    "diet": "food, eating habits and weight",
    "exercise": "physical activity, sport and fitness",
    "sleep": "sleep, tiredness and rest",
    "work": "the job, colleagues, school or money",
    "family": "children, parents, partners and relatives",
    "health": "illness, medication and doctors",
    "mood": "stress, anxiety, sadness or anger",
    "friends": "friends, social life and loneliness",
}


def write_codebook(path: Path = CODEBOOK) -> Path:
    """15 parent codes from the plain codebooks, 10 invented topic sub-codes each (165 codes)."""
    rows = [["name", "description", "parent"]]
    for source in ("annomi_therapist", "annomi_client", "esconv"):
        book = load_codebook(ROOT / "benchmarks" / "codebooks" / "plain" / f"{source}.csv")
        for code in book.flat():
            parent = f"{code.name} ({source.replace('_', ' ')})"
            rows.append([parent, code.definition, ""])
            for topic, words in TOPICS.items():
                rows.append([f"{parent} / {topic}", f"{code.definition} Here about {words}.", parent])
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="segments (default 10,000)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "big_codebook.json"))
    args = parser.parse_args(argv)
    cb = load_codebook(write_codebook())
    all_segs, _ = sb.load_annomi()
    # AnnoMI has 9,699 utterances: the rest of the 10,000 are a second copy under other document ids
    copies = [all_segs]
    while sum(len(c) for c in copies) < args.n:
        k = len(copies)
        extra = all_segs.assign(doc_id=all_segs["doc_id"] + f"-copy{k}")
        extra["segment_id"] = [make_segment_id(d, s, e)
                               for d, s, e in zip(extra["doc_id"], extra["start"], extra["end"], strict=True)]
        copies.append(extra)
    segs = pd.concat(copies, ignore_index=True).iloc[: args.n].reset_index(drop=True)
    emb = sb.corpus_embedder("annomi", all_segs["text"].tolist())
    ZeroShotMapper(cb, embedder=emb, self_training=False).fit()  # warm-up: embeds the 165 prototypes once
    load_before = list(os.getloadavg())
    results = {"command": "python benchmarks/big_codebook.py " + " ".join(argv if argv is not None else sys.argv[1:]),
               "codebook": str(CODEBOOK.relative_to(ROOT)), "synthetic": True, "n_codes": len(cb), "n_segments": len(segs),
               "timed": "prototype embedding (cached by the lookup embedder after warm-up) excluded; segment embeddings "
                        "precomputed; fit(segments) + predict(segments)", "load_average_before": load_before}
    for key, kw in (("self_training", {}), ("single_label", {"single_label": True}),
                    ("corpus_threshold_only", {"self_training": False})):
        t0 = time.perf_counter()
        mapper = ZeroShotMapper(cb, embedder=emb, **kw).fit(segs)
        t_fit = time.perf_counter() - t0
        codes = mapper.predict(segs)
        total = time.perf_counter() - t0
        results[key] = {"fit_s": round(t_fit, 2), "total_s": round(total, 2), "n_code_rows": len(codes),
                        "n_coded_segments": int(codes["segment_id"].nunique()), "n_codes_used": int(codes["code"].nunique())}
        print(f"{key:<24} fit {t_fit:6.1f} s, fit+predict {total:6.1f} s: {len(codes)} codes on "
              f"{codes['segment_id'].nunique()} of {len(segs)} segments, {codes['code'].nunique()} of {len(cb)} codes used",
              flush=True)
    results["load_average_after"] = list(os.getloadavg())
    from psythemes.outputs import write_json

    write_json(args.out, results)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
