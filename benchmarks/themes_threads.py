"""Why the theme fit limits BLAS/OpenMP to one thread: the ``fast`` preset's PCA + k-means, timed
with one thread and with the libraries' default thread count.

Usage: ``.venv/bin/python benchmarks/themes_threads.py [--n 2000] [--reps 5]``

Synthetic segment-sized data (``--n`` rows of 384 dimensions in 20 Gaussian clusters, seeded):
the parts :func:`psythemes.themes.presets.fast_parts` builds, fitted as BERTopic fits them
(PCA, then k-means on its output).  Best of ``--reps`` per setting, alternating.  Writes
``benchmarks/results/themes_threads.json`` with the machine's load (``uptime``) before and after,
since timings on a shared machine vary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
OUT = ROOT / "benchmarks" / "results" / "themes_threads.json"


def _load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    from threadpoolctl import threadpool_info, threadpool_limits

    from psythemes.themes.presets import fast_parts

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 384))
    X = (centres[rng.integers(0, 20, args.n)] + rng.normal(scale=2.0, size=(args.n, 384))).astype(np.float32)

    def fit() -> float:
        parts = fast_parts(args.n, X.shape[1], min_topic_size=10, n_themes=None, random_state=0)
        t = time.perf_counter()
        reduced = parts["umap_model"].fit_transform(X)
        parts["hdbscan_model"].fit(reduced)
        return time.perf_counter() - t

    load_before = _load()
    fit()  # warm-up: imports and first-call costs are in neither timing
    runs: dict[str, list[float]] = {"one_thread": [], "default_threads": []}
    for _ in range(args.reps):
        with threadpool_limits(limits=1):
            runs["one_thread"].append(round(fit(), 4))
        runs["default_threads"].append(round(fit(), 4))
    best = {k: min(v) for k, v in runs.items()}
    result = {
        "command": f".venv/bin/python benchmarks/themes_threads.py --n {args.n} --reps {args.reps}",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "thread_pools": [{k: p.get(k) for k in ("user_api", "internal_api", "num_threads")} for p in threadpool_info()],
        "n_segments": args.n,
        "runs_s": runs,
        "best_s": best,
        "speedup_one_thread": round(best["default_threads"] / best["one_thread"], 2),
        "load_before": load_before,
        "load_after": _load(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"fast preset parts on {args.n} segments: one thread {best['one_thread']:.3f} s, "
          f"default threads {best['default_threads']:.3f} s (x{result['speedup_one_thread']}); "
          f"load {result['load_after']}")


if __name__ == "__main__":
    main()
