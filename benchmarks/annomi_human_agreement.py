"""Recompute AnnoMI's human inter-annotator agreement with psythemes.agreement.

AnnoMI (Wu et al. 2022, 2023) has 7 transcripts coded by all 10 annotators.  This script
recomputes Fleiss' kappa and Krippendorff's alpha (nominal, with bootstrap CIs) for
``main_therapist_behaviour`` on therapist utterances and ``client_talk_type`` on client
utterances, prints them and writes ``benchmarks/results/annomi_human_agreement.json``.

Run from the repository root::

    .venv/bin/python benchmarks/annomi_human_agreement.py

The corpus is read from ``../shared/corpora/annomi/AnnoMI-full.csv`` (or
``$PSYTHEMES_SHARED/corpora/annomi/AnnoMI-full.csv``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd

from psythemes.agreement import agreement
from psythemes.outputs import write_json

ROOT = Path(__file__).resolve().parents[1]
#: label column -> the speaker whose utterances carry it
TASKS = {"main_therapist_behaviour": "therapist", "client_talk_type": "client"}


def shared_dir() -> Path:
    return Path(os.environ.get("PSYTHEMES_SHARED", ROOT.parent / "shared"))


def reliability_tables(csv_path: Path) -> dict[str, pd.DataFrame]:
    """Units (transcript, utterance) x annotators tables for each label, multi-coded transcripts only."""
    full = pd.read_csv(csv_path)
    n_annotators = full.groupby("transcript_id")["annotator_id"].nunique()
    multi = n_annotators[n_annotators == n_annotators.max()].index
    full = full[full["transcript_id"].isin(multi)]
    tables = {}
    for label, speaker in TASKS.items():
        rows = full[full["interlocutor"] == speaker]
        tables[label] = rows.pivot_table(index=["transcript_id", "utterance_id"], columns="annotator_id",
                                         values=label, aggfunc="first")
    return tables


def compute(csv_path: Path, n_boot: int = 1000, random_state: int = 0) -> dict:
    results = {"source": str(csv_path), "n_boot": n_boot, "random_state": random_state, "labels": {}}
    for label, table in reliability_tables(csv_path).items():
        entry = {"n_units": int(table.shape[0]), "n_annotators": int(table.shape[1])}
        for metric in ("fleiss", "alpha", "percent"):
            res = agreement(table, metric, level="nominal", n_boot=n_boot, random_state=random_state)
            entry[metric] = {"value": res.value, "ci_low": res.ci_low, "ci_high": res.ci_high}
        results["labels"][label] = entry
    return results


def main() -> int:
    csv_path = shared_dir() / "corpora" / "annomi" / "AnnoMI-full.csv"
    if not csv_path.is_file():
        print(f"AnnoMI not found at {csv_path} (set PSYTHEMES_SHARED)", file=sys.stderr)
        return 1
    start = time.perf_counter()
    results = compute(csv_path)
    results["seconds"] = round(time.perf_counter() - start, 2)
    for label, entry in results["labels"].items():
        f, a, p = entry["fleiss"], entry["alpha"], entry["percent"]
        print(f"{label}: {entry['n_units']} utterances x {entry['n_annotators']} annotators; "
              f"Fleiss kappa {f['value']:.3f} [{f['ci_low']:.3f}, {f['ci_high']:.3f}], "
              f"alpha {a['value']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}], "
              f"observed agreement {p['value']:.3f}")
    out = write_json(ROOT / "benchmarks" / "results" / "annomi_human_agreement.json", results)
    print(f"wrote {out.relative_to(ROOT)} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
