"""Issue #13: multi-label zero-shot when the codebook grows - how many codes per segment, and at what cost?

A stranger's 40-code codebook gave up to 9 codes per turn on a small corpus; the questions here
are how the multi-label zero-shot mapper behaves as codes are added, on corpora with multi-label
gold: the SYNTHETIC demo corpus (4 mechanisms, coder A; participants' turns) and AnnoMI therapist
utterances (question / reflection / therapist input present, ``AnnoMI-full.csv``).  Each corpus is
mapped with its own plain codebook, then with distractor codes added from the other plain
codebooks (ESConv strategies, AnnoMI client talk, the other corpus's codes; names suffixed so they
stay distinct).  Only the corpus's own codes are scored (mean per-code kappa and macro-F1 of
presence), so a distractor assigned costs nothing in the score: the rows show what the added codes
take from the real ones and how many codes a segment gets, not a full many-code evaluation.

Rules compared (no label is read before scoring; every segment is used, there is nothing to tune):

- ``corpus z >= 1``: no self-training, each code's threshold one standard deviation above its
  corpus median (and within 0.5 SD of the segment's best code), the non-self-trained path;
- ``share 1/K``, ``share 2/K``: the same with each code's threshold raised so that it takes about
  1/K or 2/K of the corpus (normal quantile of the z-score), a K-aware variant;
- ``self-trained (default)``: the shipped mapper (self-training, at most one code per segment).

The psychosomatic codes here are written from the study's one-line definitions (plain; the shipped
YAML has examples and cues).  Usage (from the repository root; about 30 s with the embedding cache
warm, a few minutes cold)::

    PYTHONPATH=src .venv/bin/python benchmarks/experiments/zeroshot_many_codes.py
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import scoreboard as sb  # noqa: E402
from demo_mapping import CORPUS, MemoEmbedder, pred_sets, score_sets  # noqa: E402

from psythemes.codebook import load_codebook  # noqa: E402
from psythemes.evaluate import load_gold  # noqa: E402
from psythemes.io import read_transcripts  # noqa: E402
from psythemes.mapping import ZeroShotMapper, labels_from_gold  # noqa: E402
from psythemes.segment import segment_transcripts  # noqa: E402

PLAIN = ROOT / "benchmarks" / "codebooks" / "plain"
#: The four mechanisms in one line each, from the study's definitions (README, "The mission").
PSYCHOSOMATIC = pd.DataFrame({"name": ["Alternation", "Awareness", "Alliance", "Common ground"], "description": [
    ("Continuous alternation of psychosocial conversation and body-oriented exercises in the sessions, and for "
    "therapists of exploration and treatment."),
    "Becoming aware of the interaction between body and mind.",
    "Rapport, a good therapeutic relationship: being taken seriously, listened to, trust.",
    ("Patient and therapist agreeing on an explanation of the symptoms and on the approach, with realistic "
    "expectations.")]})


def plain(name: str, suffix: str = "") -> pd.DataFrame:
    frame = pd.read_csv(PLAIN / name)[["name", "description"]]
    frame["name"] = frame["name"] + suffix
    return frame


def slug(name: str) -> str:
    return name.lower().replace(" ", "_")


def run(tag: str, segs: pd.DataFrame, gold: list[set[str]], scored: list[str], book: pd.DataFrame,
        embedder: MemoEmbedder, folder: Path) -> None:
    path = folder / f"{tag}.csv"
    book.to_csv(path, index=False)
    cb = load_codebook(path)
    k = len(cb.codable())
    ids = segs["segment_id"].tolist()
    rows = []
    zs = ZeroShotMapper(cb, embedder=embedder, self_training=False).fit(segs)
    loc, scale = zs.corpus_location_, zs.corpus_scale_
    for rule, z in [("corpus z >= 1", 1.0), ("share 1/K", max(1.0, float(norm.ppf(1 - 1 / k)))),
                    ("share 2/K", max(1.0, float(norm.ppf(1 - 2 / k))))]:
        zs.thresholds_ = {c: float(loc[j] + z * scale[j]) for j, c in enumerate(zs.codes_)}
        rows.append((rule, [{slug(c) for c in s} for s in pred_sets(zs.predict(segs), ids)]))
    shipped = ZeroShotMapper(cb, embedder=embedder).fit(segs)
    rows.append(("self-trained (default)", [{slug(c) for c in s} for s in pred_sets(shipped.predict(segs), ids)]))
    n_gold = np.array([len(s) for s in gold])
    print(f"\n{tag}: K={k} codes, {len(segs)} segments; gold: {n_gold.mean():.2f} codes per segment, "
          f"{(n_gold == 0).mean():.2f} uncoded")
    print("| rule | mean kappa | macro-F1 | codes per segment | uncoded | most codes on one segment |")
    print("|---|---|---|---|---|---|")
    for rule, pred in rows:
        n = np.array([len(s) for s in pred])
        score = score_sets(gold, pred, scored)
        print(f"| {rule} | {score['mean_kappa']:.3f} | {score['macro_f1']:.3f} | {n.mean():.2f} | "
              f"{(n == 0).mean():.2f} | {n.max()} |")


def main() -> int:
    warnings.simplefilter("ignore")
    t0 = time.time()
    embedder = MemoEmbedder()
    folder = Path(tempfile.mkdtemp(prefix="psythemes-many-codes-"))
    transcripts = read_transcripts(CORPUS / "transcripts", metadata=CORPUS / "metadata.csv")
    segs = segment_transcripts(transcripts, unit="turn", interviewer="drop", backchannels="drop").reset_index(drop=True)
    gold = load_gold(CORPUS / "codes" / "reference.csv", codes=load_codebook("psychosomatic").names)
    demo_gold = [set(v) for v in labels_from_gold(segs, gold[gold["coder"] == "A"])]
    demo_codes = ["alternation", "awareness", "alliance", "common_ground"]
    mi = plain("annomi_therapist_multilabel.csv")
    for tag, book in [
        ("demo, own 4 codes", PSYCHOSOMATIC),
        ("demo + AnnoMI client (7)", pd.concat([PSYCHOSOMATIC, plain("annomi_client.csv", " (client)")])),
        ("demo + ESConv (12)", pd.concat([PSYCHOSOMATIC, plain("esconv.csv", " (support)")])),
        ("demo + all (18)", pd.concat([PSYCHOSOMATIC, plain("esconv.csv", " (support)"),
                                       plain("annomi_client.csv", " (client)"), mi.assign(name=mi["name"] + " (MI)")])),
    ]:
        run(tag, segs, demo_gold, demo_codes, book, embedder, folder)
    ther, labels, _ = sb.load_annomi_multilabel()
    mi_gold = [{slug(c) for c in row} for row in labels]
    mi_codes = sorted({slug(c) for c in mi["name"]})
    psy = PSYCHOSOMATIC.assign(name=PSYCHOSOMATIC["name"] + " (psychosomatic)")
    for tag, book in [
        ("AnnoMI therapist, own 3 codes", mi),
        ("AnnoMI + psychosomatic (7)", pd.concat([mi, psy])),
        ("AnnoMI + ESConv (11)", pd.concat([mi, plain("esconv.csv", " (support)")])),
        ("AnnoMI + all (18)", pd.concat([mi, psy, plain("esconv.csv", " (support)"),
                                         plain("annomi_client.csv", " (client)")])),
    ]:
        run(tag, ther, mi_gold, mi_codes, book, embedder, folder)
    print(f"\n{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
