"""A stranger's study, written as its team would have it: the first 12 ESConv test dialogues as
f4/MAXQDA-style transcripts, a plain codebook and gold codes of the supporter turns, run through
``psythemes extract`` from a folder outside the checkout (docs/agreement.md, "Roles the gold codes").

The transcripts: one ``Interview NN.txt`` per dialogue, a title block (``Transcript: ...`` /
``Date: ...``), ``I:`` (supporter) and ``B:`` (seeker) labels and an f4 time mark
(``#00:00:05-3#``, times made up from the text's length) at the end of every turn.  The codebook:
``Support strategies.csv``, ``Name,Description`` with the eight ESConv strategy names (capitals and
spaces) and one-sentence definitions written from Liu et al. (2021), *Towards Emotional Support
Dialog Systems*, ACL (no examples, no cues).  The gold: each supporter turn's strategy, at the
turn's character offsets.

Usage (from the repository root; needs ../shared/corpora/esconv)::

    .venv/bin/python benchmarks/experiments/stranger_f4_study.py /tmp/stranger

It runs ``extract --single-label`` twice (default evaluation, and ``--all-roles``) and prints
what each measured.  Nothing is written into the repository.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ESCONV = ROOT.parent / "shared" / "corpora" / "esconv" / "test.jsonl"

CODEBOOK = [
    ("Question", ("Asking for information related to the problem to help the help-seeker articulate the issues "
                 "they face.")),
    ("Restatement or Paraphrasing", ("A simple, more concise rephrasing of the help-seeker's statements that could "
                                    "help them see their situation more clearly.")),
    ("Reflection of Feelings", "Articulate and describe the help-seeker's feelings."),
    ("Self-disclosure", ("Divulge similar experiences that you have had or emotions that you share with the "
                        "help-seeker to express your empathy.")),
    ("Affirmation and Reassurance", ("Affirm the help-seeker's strengths, motivation, and capabilities and provide "
                                    "reassurance and encouragement.")),
    ("Providing Suggestions", ("Provide suggestions about how to change, but be careful to not overstep and tell "
                              "them what to do.")),
    ("Information", ("Provide useful information to the help-seeker, for example with data, facts, opinions, "
                    "resources, or by answering questions.")),
    ("Others", "Exchange pleasantries and use other support strategies that do not fall into the above categories."),
]


def write_study(folder: Path, n_dialogues: int = 12) -> tuple[Path, Path, Path]:
    """The transcripts folder, codebook and gold CSV of the study, written under ``folder``."""
    transcripts = folder / "transcripts"
    transcripts.mkdir(parents=True, exist_ok=True)
    with ESCONV.open(encoding="utf-8") as f:
        dialogues = [json.loads(line) for _, line in zip(range(n_dialogues), f, strict=False)]
    gold = []
    for k, dialogue in enumerate(dialogues, 1):
        doc = f"Interview {k:02d}"
        text, seconds = f"Transcript: support conversation {k}\nDate: 2021\n\n", 0.0
        for turn in dialogue["dialog"]:
            label = "I" if turn["speaker"] == "sys" else "B"
            words = turn["text"].strip()
            seconds += 3.7 + len(words) / 15
            mark = (f"#{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
                    f"-{int(seconds * 10) % 10}#")
            start = len(text) + len(label) + 2
            text += f"{label}: {words} {mark}\n\n"
            if label == "I":
                gold.append((doc, start, start + len(words), turn["strategy"], "rater"))
        (transcripts / f"{doc}.txt").write_text(text, encoding="utf-8")
    gold_path, book_path = folder / "gold.csv", folder / "Support strategies.csv"
    with gold_path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("doc_id", "start", "end", "code", "coder"), *gold])
    with book_path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("Name", "Description"), *CODEBOOK])
    return transcripts, book_path, gold_path


def main() -> None:
    if not ESCONV.is_file():
        sys.exit(f"skipped: {ESCONV} is missing (../shared/corpora/esconv)")
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/stranger-f4").resolve()
    transcripts, book, gold = write_study(folder)
    psythemes = Path(sys.executable).with_name("psythemes")
    for name, extra in (("default", []), ("all-roles", ["--all-roles"])):
        out = folder / f"out-{name}"
        cmd = [str(psythemes), "extract", str(transcripts), "--codebook", str(book), "--gold", str(gold),
               "--single-label", "--speaker-roles", "I=therapist,B=client", "--n-boot", "200",
               "-o", str(out), *extra]
        done = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(done.stderr[-2000:])
        summary = json.loads((out / "manifest.json").read_text())["evaluation"]
        print(f"{name}: {int(summary['n_units'])} units, roles {summary['roles_evaluated'] or 'all'}, "
              f"mean kappa {summary['mean_kappa']:.3f}, macro-F1 {summary['macro_f1']:.3f}")


if __name__ == "__main__":
    main()
