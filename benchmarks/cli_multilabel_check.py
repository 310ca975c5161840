"""Multi-label few-shot through the CLI equals the scoreboard: AnnoMI therapist behaviours, 20 % of transcripts.

The multi-label row of ``benchmarks/scoreboard.py`` (``annomi_therapist_multilabel_plain``: question /
reflection / therapist input present per utterance, plain codebook) run as a user would, on the
seed-0 split::

    psythemes train  segments.csv --gold gold.csv --out model \
        --codebook benchmarks/codebooks/plain/annomi_therapist_multilabel.csv
    psythemes map    segments.csv --model model --out map

``gold.csv`` holds one row per code of each therapist utterance of the 20 % training transcripts
(an utterance with none has no row, as in a QDA export); nothing else is passed, so the CLI must
infer that the scheme is multi-label and that only therapist turns are coded.  ``map/codes.csv``
is scored on the therapist utterances of the other 80 % with the scoreboard's own function
(``score_sets``: κ and F1 of presence per code, averaged), against the scoreboard's seed-0 figure
(``few_shot_20pct_threshold_auto``).  The embedding cache is seeded with the scoreboard's vectors
(see ``benchmarks/cli_fewshot_check.py``).

    .venv/bin/python benchmarks/cli_multilabel_check.py [--work DIR]   # -> benchmarks/results/cli_multilabel_check.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scoreboard as sb  # noqa: E402
from cli_fewshot_check import _run, seed_embedding_cache, write_result  # noqa: E402
from demo_mapping import pred_sets, score_sets  # noqa: E402

from psythemes.mapping import grouped_splits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CODEBOOK = sb.PLAIN / "annomi_therapist_multilabel.csv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", help="work folder (default: a temporary one)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cli_multilabel_check.json"))
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="psythemes-cli-multilabel-"))
    work.mkdir(parents=True, exist_ok=True)
    ther, gold, all_segs = sb.load_annomi_multilabel()
    tr, te = grouped_splits(ther["doc_id"].to_numpy(), 0.2, n_splits=1, random_state=0)[0]
    all_segs.to_csv(work / "segments.csv", index=False)
    rows = [(*ther.loc[i, ["doc_id", "start", "end"]], code) for i in tr for code in gold[i]]
    pd.DataFrame(rows, columns=["doc_id", "start", "end", "code"]).to_csv(work / "gold.csv", index=False)
    seed_embedding_cache(work, all_segs["text"].tolist())
    t0 = time.time()
    train_out = _run(["train", str(work / "segments.csv"), "--gold", str(work / "gold.csv"),
                      "--codebook", str(CODEBOOK), "--out", str(work / "model"), "--cv", "0"])
    map_out = _run(["map", str(work / "segments.csv"), "--model", str(work / "model"), "--out", str(work / "map")])
    seconds = time.time() - t0
    codes = pd.read_csv(work / "map" / "codes.csv", keep_default_na=False)
    cli = score_sets([set(gold[i]) for i in te], pred_sets(codes, ther["segment_id"].iloc[te].tolist()),
                     list(sb.MULTILABEL_FLAGS))
    board_path = ROOT / "benchmarks" / "results" / "scoreboard_plain_multilabel.json"
    board = json.loads(board_path.read_text(encoding="utf-8"))
    seed0 = board["annomi_therapist_multilabel_plain"]["few_shot_20pct_threshold_auto"]["runs"][0]
    coded_roles = all_segs.set_index("segment_id").loc[codes["segment_id"], "role"].value_counts().to_dict()
    given = argv if argv is not None else sys.argv[1:]
    result = {"command": "python benchmarks/cli_multilabel_check.py " + " ".join(given),
              "cli_test_80pct": {"mean_kappa": round(cli["mean_kappa"], 4), "macro_f1": round(cli["macro_f1"], 4),
                                 "per_code_kappa": {c: round(v["kappa"], 4) for c, v in cli["per_code"].items()}},
              "scoreboard_seed_0": {"mean_kappa": round(seed0["mean_kappa"], 4),
                                    "macro_f1": round(seed0["macro_f1"], 4),
                                    "thresholds": seed0["thresholds"]},
              "coded_roles": coded_roles, "train_output": train_out.strip().splitlines(),
              "map_output": map_out.strip().splitlines(), "seconds": round(seconds, 1),
              "load_average": list(os.getloadavg())}
    print(f"CLI, 80 % test transcripts: mean kappa {cli['mean_kappa']:.4f}, macro-F1 {cli['macro_f1']:.4f}; "
          f"scoreboard seed 0: {seed0['mean_kappa']:.4f}, {seed0['macro_f1']:.4f}; coded roles {coded_roles}")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
