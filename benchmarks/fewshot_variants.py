"""Few-shot variants on the plain-codebook rows: the scoreboard's "few-shot, 20 % of transcripts" row,
re-run with parameter overrides (the research behind FewShotMapper's defaults).

Usage (from the repository root)::

    .venv/bin/python benchmarks/fewshot_variants.py --corpus annomi_therapist --seeds 5 \
        --variant default --variant 'C=0.01' --variant 'C=0.01,class_weight=balanced'

Each variant is ``name`` or ``key=value,key=value`` (values parsed as JSON when they parse, else
strings) passed to :class:`~psythemes.mapping.FewShotMapper` on top of what ``psythemes train``
uses (``single_label=True``, ``roles=[the coded role]``).  The split, the seeds and the scoring are
the scoreboard's own (:func:`scoreboard.plain_few_shot`).  Writes
``benchmarks/results/fewshot_variants_<corpus>.json`` (merged with earlier runs of other variants).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scoreboard as sb  # noqa: E402


def parse_variant(text: str) -> dict[str, Any]:
    if text == "default":
        return {}
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="annomi_therapist", choices=["annomi_therapist", "annomi_client"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--variant", action="append", default=None, help="'default' or key=value,... (repeatable)")
    parser.add_argument("--out", help="default: benchmarks/results/fewshot_variants_<corpus>.json")
    args = parser.parse_args(argv)
    out_path = Path(args.out or sb.RESULTS / f"fewshot_variants_{args.corpus}.json")
    task = sb.plain_task(args.corpus)
    results: dict[str, Any] = json.loads(out_path.read_text(encoding="utf-8")) if out_path.exists() else {"variants": {}}
    for variant in args.variant or ["default"]:
        t0 = time.time()
        s = sb.plain_few_shot(*task, n_seeds=args.seeds, params=parse_variant(variant), label=variant)
        s["seconds"] = round(time.time() - t0, 1)
        s["load_average"] = list(os.getloadavg())  # the machine is shared: timings depend on it
        results["variants"][variant] = s
        results["command"] = "python benchmarks/fewshot_variants.py " + " ".join(argv if argv is not None else sys.argv[1:])
        from psythemes.outputs import write_json

        write_json(out_path, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
