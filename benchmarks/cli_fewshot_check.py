"""Few-shot through the CLI equals the scoreboard: AnnoMI therapist behaviour, plain codebook, 20 % of transcripts.

Writes ``segments.csv`` (every AnnoMI utterance, both roles) and ``gold.csv`` (the corpus' own
labels, spelt as the corpus spells them: ``therapist_input``; only the therapist utterances of the
seed-0 20 % training transcripts) into a work folder, then runs, as a user would::

    psythemes train  segments.csv --gold gold.csv --codebook benchmarks/codebooks/plain/annomi_therapist.csv --out model
    psythemes map    segments.csv --model model --out map
    psythemes evaluate --pred map/codes.csv --gold test_gold.csv --segments test_segments.csv --out eval

and scores ``map/codes.csv`` on the therapist utterances of the other 80 % of transcripts with the
scoreboard's own function (``agreement_scores``: Cohen's κ over one label per utterance).  Nothing
is passed that the scoreboard does not also use: the CLI infers from the gold that the scheme is
single-label and that only therapist turns are coded.  The scoreboard's ``annomi_therapist_plain``
few-shot seed-0 figure is the same model on torch vectors; the CLI embeds with its default backend
(onnx) unless ``PSYTHEMES_EMBED_BACKEND=torch``.  With ``--seed-cache`` (the default) the CLI runs
with the torch backend and an embedding cache in the work folder pre-filled with the scoreboard's
cached torch vectors of the utterances, so both sides see the same vectors and any difference is
the CLI path's own (and the run takes minutes, not the time to embed 9,699 utterances again).

Then the zero-shot row the same way: ``psythemes map segments.csv --codebook ... --method zero-shot
--single-label --roles therapist --keep-backchannels --out zero`` (AnnoMI codes "mm-hmm" too), scored
on the same test utterances (the scoreboard's
``zero_shot.calibrated_single_label`` figure).

    .venv/bin/python benchmarks/cli_fewshot_check.py [--work DIR]   # -> benchmarks/results/cli_fewshot_check.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scoreboard as sb  # noqa: E402

from psythemes.codebook import load_codebook  # noqa: E402
from psythemes.mapping import agreement_scores, grouped_splits  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CODEBOOK = ROOT / "benchmarks" / "codebooks" / "plain" / "annomi_therapist.csv"


def _run(args: list[str]) -> str:
    # the `psythemes` console script, run with this interpreter (its PYTHONPATH decides which psythemes)
    cmd = [sys.executable, "-c", "import sys; from psythemes.cli import main; sys.exit(main(sys.argv[1:]))", *args]
    print("$ psythemes " + " ".join(args), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    print(done.stdout + done.stderr, flush=True)
    if done.returncode != 0:
        raise SystemExit(f"psythemes {args[0]} failed with exit code {done.returncode}")
    return done.stdout + done.stderr


def write_result(path: str | Path, result: dict) -> None:
    from psythemes.outputs import write_json

    write_json(path, result)
    print(f"wrote {path}")


def seed_embedding_cache(work: Path, texts: list[str]) -> None:
    """Make the CLI embed with torch and find the scoreboard's cached torch vectors of ``texts`` in
    an embedding cache in ``work``: both sides then see the same vectors."""
    from psythemes.embed import Embedder, _text_keys

    os.environ["PSYTHEMES_EMBED_BACKEND"] = "torch"
    os.environ["PSYTHEMES_CACHE"] = str(work / "cache")
    vectors = sb.corpus_embedder("annomi", texts).encode(texts)
    unique = dict(zip(texts, vectors, strict=True))
    Embedder(backend="torch", cache_dir=work / "cache" / "embeddings").cache_.append(
        _text_keys(list(unique)), np.vstack(list(unique.values())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", help="work folder (default: a temporary one)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cli_fewshot_check.json"))
    parser.add_argument("--no-seed-cache", dest="seed_cache", action="store_false",
                        help="let the CLI embed with its default backend instead of the scoreboard's vectors")
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="psythemes-cli-check-"))
    work.mkdir(parents=True, exist_ok=True)
    all_segs, labels = sb.load_annomi()
    mask = labels["therapist"].notna().to_numpy()
    ther = all_segs[mask].reset_index(drop=True)
    gold_labels = labels["therapist"][mask].tolist()
    tr, te = grouped_splits(ther["doc_id"].to_numpy(), 0.2, n_splits=1, random_state=0)[0]
    all_segs.to_csv(work / "segments.csv", index=False)
    gold = ther[["doc_id", "start", "end"]].assign(code=gold_labels)
    gold.iloc[tr].to_csv(work / "gold.csv", index=False)
    gold.iloc[te].to_csv(work / "test_gold.csv", index=False)
    test_docs = set(ther["doc_id"].iloc[te])
    all_segs[all_segs["doc_id"].isin(test_docs)].to_csv(work / "test_segments.csv", index=False)
    if args.seed_cache:
        seed_embedding_cache(work, all_segs["text"].tolist())
    t0 = time.time()
    train_out = _run(["train", str(work / "segments.csv"), "--gold", str(work / "gold.csv"), "--codebook", str(CODEBOOK),
                      "--out", str(work / "model"), "--cv", "0"])
    map_out = _run(["map", str(work / "segments.csv"), "--model", str(work / "model"), "--out", str(work / "map")])
    _run(["evaluate", "--pred", str(work / "map" / "codes.csv"), "--gold", str(work / "test_gold.csv"),
         "--segments", str(work / "test_segments.csv"), "--out", str(work / "eval"), "--n-boot", "0"])
    seconds = time.time() - t0
    codes = pd.read_csv(work / "map" / "codes.csv", keep_default_na=False)
    pred_of = dict(zip(codes["segment_id"], codes["code"], strict=True))
    cb = load_codebook(CODEBOOK)
    test = ther.iloc[te]
    pred = [pred_of.get(s) for s in test["segment_id"]]
    truth = [cb.resolve(g) for g in (gold_labels[i] for i in te)]
    cli = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in agreement_scores(truth, pred).items()}
    # zero-shot through the CLI, as the scoreboard's single-label zero-shot row codes the therapist turns
    zero_out = _run(["map", str(work / "segments.csv"), "--codebook", str(CODEBOOK), "--method", "zero-shot",
                     "--single-label", "--roles", "therapist", "--keep-backchannels",  # the gold codes "mm-hmm" too
                     "--out", str(work / "zero")])
    zero_codes = pd.read_csv(work / "zero" / "codes.csv", keep_default_na=False)
    zero_of = dict(zip(zero_codes["segment_id"], zero_codes["code"], strict=True))
    zero = {k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in agreement_scores(truth, [zero_of.get(s) for s in test["segment_id"]]).items()}
    print(f"CLI zero-shot --single-label --roles therapist, 80 % test transcripts: kappa {zero['kappa']:.4f}, "
          f"macro-F1 {zero['macro_f1']:.4f}")
    coded_roles = all_segs.set_index("segment_id").loc[codes["segment_id"], "role"].value_counts().to_dict()
    summary = json.loads((work / "eval" / "agreement.json").read_text(encoding="utf-8")).get("summary", {})
    result = {"command": "python benchmarks/cli_fewshot_check.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "embedding_backend": os.environ.get("PSYTHEMES_EMBED_BACKEND", "default (onnx)"),
              "cache_seeded_with_scoreboard_vectors": bool(args.seed_cache),
              "cli_test_80pct": cli, "uncoded_test_utterances": int(sum(p is None for p in pred)),
              "coded_roles": coded_roles, "evaluate_macro_f1": summary.get("macro_f1"),
              "train_output": train_out.strip().splitlines(), "map_output": map_out.strip().splitlines(),
              "zero_shot_single_label_test_80pct": zero, "zero_shot_map_output": zero_out.strip().splitlines(),
              "seconds": round(seconds, 1), "load_average": list(os.getloadavg())}
    print(f"CLI, 80 % test transcripts: kappa {cli['kappa']:.4f}, macro-F1 {cli['macro_f1']:.4f}, "
          f"{result['uncoded_test_utterances']} of {len(test)} therapist utterances uncoded; coded roles {coded_roles}")
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
