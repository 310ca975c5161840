"""Wall time of ``psythemes --help`` (CLI start-up), median of N runs.

Usage: ``.venv/bin/python benchmarks/startup.py [--runs N] [--command segment]``

The target is under 1 s: command modules must import pandas, spaCy, torch... only inside
the command functions.  Also prints which heavy modules ``import psythemes.cli`` pulls in.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 1.0
HEAVY = ("pandas", "numpy", "spacy", "torch", "sentence_transformers", "bertopic", "sklearn", "webvtt",
         "docx", "charset_normalizer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--command", default=None, help="time `psythemes COMMAND --help` instead")
    args = parser.parse_args()

    exe = Path(sys.executable).with_name("psythemes")
    cmd = [str(exe)] if exe.exists() else [shutil.which("psythemes") or "psythemes"]
    cmd += ([args.command] if args.command else []) + ["--help"]
    subprocess.run(cmd, check=True, capture_output=True)  # warm the file cache once
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)

    probe = ("import sys, psythemes.cli; "
             f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout.strip()

    print(f"command: {' '.join(cmd)}")
    print(f"runs: {args.runs}  median: {median:.3f} s  min: {min(times):.3f} s  max: {max(times):.3f} s  "
          f"(target < {TARGET_S:.1f} s: {'met' if median < TARGET_S else 'MISSED'})")
    print(f"heavy modules imported by `import psythemes.cli`: {loaded or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
